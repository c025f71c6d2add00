"""UNet2DModel on its own: configuration, shapes, conditioning, dtypes, save/load."""

from __future__ import annotations

import math

import pytest
import torch
from diffusekit_models.unet_2d import UNet2DModel

from diffusekit.errors import ConfigError

DDPM = {
    "sample_size": 16,
    "block_out_channels": (32, 64),
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
    "layers_per_block": 1,
    "attention_head_dim": 16,
}

NCSNPP = {
    "block_out_channels": [32, 64, 64],
    "layers_per_block": 1,
    "time_embedding_type": "fourier",
    "norm_eps": 1e-6,
    "mid_block_scale_factor": math.sqrt(2.0),
    "norm_num_groups": None,
    "down_block_types": ["SkipDownBlock2D", "AttnSkipDownBlock2D", "SkipDownBlock2D"],
    "up_block_types": ["SkipUpBlock2D", "AttnSkipUpBlock2D", "SkipUpBlock2D"],
}


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("config", [DDPM, NCSNPP], ids=["ddpm", "ncsnpp"])
def test_output_has_the_sample_shape(config):
    model = UNet2DModel(**config).eval()
    timestep = torch.tensor([0.5, 5.0]) if config is NCSNPP else torch.tensor([1, 900])
    with torch.no_grad():
        out = model(_randn(2, 3, 16, 16), timestep).sample
    assert out.shape == (2, 3, 16, 16)
    assert torch.isfinite(out).all()


def test_fourier_output_is_divided_by_sigma():
    model = UNet2DModel(**NCSNPP).eval()
    sample = _randn(1, 3, 8, 8)
    with torch.no_grad():
        out = model(sample, torch.tensor([2.0])).sample
        model.time_proj.weight.zero_()  # time features become constant: only the 1/σ remains
        at_two = model(sample, torch.tensor([2.0])).sample
        at_four = model(sample, torch.tensor([4.0])).sample
    assert torch.isfinite(out).all()
    torch.testing.assert_close(at_two, 2 * at_four)


def test_scalar_and_batched_timesteps_agree():
    model = UNet2DModel(**DDPM).eval()
    sample = _randn(2, 3, 8, 8)
    with torch.no_grad():
        scalar = model(sample, 10).sample
        batched = model(sample, torch.tensor([10, 10])).sample
        zero_dim = model(sample, torch.tensor(10)).sample
    torch.testing.assert_close(scalar, batched)
    torch.testing.assert_close(scalar, zero_dim)


def test_class_labels_change_the_output_and_are_required():
    model = UNet2DModel(**{**DDPM, "num_class_embeds": 4}).eval()
    sample = _randn(1, 3, 8, 8)
    with torch.no_grad():
        first = model(sample, 3, class_labels=torch.tensor([0])).sample
        second = model(sample, 3, class_labels=torch.tensor([1])).sample
    assert not torch.allclose(first, second)
    with pytest.raises(ValueError, match="class_labels"):
        model(sample, 3)


def test_unconditional_model_refuses_class_labels():
    model = UNet2DModel(**DDPM).eval()
    with pytest.raises(ValueError, match="class_labels"):
        model(_randn(1, 3, 8, 8), 3, class_labels=torch.tensor([0]))


def test_no_mid_block_and_learned_time():
    model = UNet2DModel(
        **{
            **DDPM,
            "mid_block_type": None,
            "time_embedding_type": "learned",
            "num_train_timesteps": 20,
        }
    ).eval()
    assert model.mid_block is None
    assert isinstance(model.time_proj, torch.nn.Embedding)
    with torch.no_grad():
        assert model(_randn(1, 3, 8, 8), 19, return_dict=False)[0].shape == (1, 3, 8, 8)


def test_float64_model():
    model = UNet2DModel(**DDPM).eval().to(torch.float64)
    with torch.no_grad():
        out = model(_randn(1, 3, 8, 8).double(), 7).sample
    assert out.dtype == torch.float64


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"up_block_types": ("UpBlock2D",)}, "block_out_channels"),
        ({"down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D")}, "down_block_types"),
        ({"time_embedding_type": "learned"}, "num_train_timesteps"),
        ({"resnet_time_scale_shift": "spatial"}, "resnet_time_scale_shift"),
        ({"class_embed_type": "projection"}, "class_embed_type"),
    ],
)
def test_bad_configs_are_rejected_naming_the_field(override, field):
    with pytest.raises(ConfigError, match=field):
        UNet2DModel(**{**DDPM, **override})


def test_save_and_load_round_trip(tmp_path):
    model = UNet2DModel(**NCSNPP).eval()
    model.save_pretrained(tmp_path)
    loaded = UNet2DModel.from_pretrained(tmp_path).eval()
    sample = _randn(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(sample, 1.5).sample, model(sample, 1.5).sample)
    assert loaded.config.down_block_types == NCSNPP["down_block_types"]
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_bfloat16_weights_take_float32_time_features():
    model = UNet2DModel(**NCSNPP).eval().to(torch.bfloat16)
    with torch.no_grad():
        out = model(_randn(1, 3, 8, 8).to(torch.bfloat16), torch.tensor([0.7])).sample
    assert out.dtype == torch.bfloat16
    assert torch.isfinite(out.float()).all()


def test_from_pretrained_with_torch_dtype(tmp_path):
    UNet2DModel(**DDPM).save_pretrained(tmp_path)
    model = UNet2DModel.from_pretrained(tmp_path, torch_dtype=torch.float64).eval()
    assert all(p.dtype == torch.float64 for p in model.parameters())
    with torch.no_grad():
        assert model(_randn(1, 3, 8, 8).double(), 3).sample.dtype == torch.float64


def test_registered_as_the_reference_class_name():
    from diffusekit import registry

    assert registry.resolve("diffusers", "UNet2DModel") is UNet2DModel


def test_fourier_weight_stored_as_w_loads(tmp_path):
    from safetensors.torch import load_file, save_file

    model = UNet2DModel(**NCSNPP).eval()
    model.save_pretrained(tmp_path)
    weights_file = tmp_path / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights_file)
    tensors["time_proj.W"] = tensors.pop("time_proj.weight")
    save_file(tensors, weights_file)
    loaded = UNet2DModel.from_pretrained(tmp_path)
    assert torch.equal(loaded.time_proj.weight, model.time_proj.weight)


def test_sliced_attention_gives_the_same_output():
    model = UNet2DModel(**{**DDPM, "attention_head_dim": 8}).eval()
    sample = _randn(2, 3, 8, 8)
    with torch.no_grad():
        full = model(sample, 5).sample
        model.set_attention_slice("max")
        sliced = model(sample, 5).sample
    assert len(model.attn_processors) == 4  # down 1, mid 1, up 2
    torch.testing.assert_close(sliced, full, atol=1e-5, rtol=1e-5)
