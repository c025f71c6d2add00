"""UNet2DConditionModel against the reference: its checkpoints load unchanged, same numbers."""

from __future__ import annotations

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_models.unet_2d_condition import UNet2DConditionModel  # noqa: E402

from ._reference_io import assert_close, load_like_reference  # noqa: E402

pytestmark = pytest.mark.parity

_TINY = {
    "sample_size": 16,
    "block_out_channels": [32, 64],
    "layers_per_block": 2,
    "norm_num_groups": 8,
    "cross_attention_dim": 24,
    "attention_head_dim": 2,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
}

CONFIGS = {
    # Stable Diffusion 1.x layout: conv projections, one head count for every block.
    "sd1": _TINY,
    # 2.x: linear projections, per-block head counts, float32 attention scores.
    "sd2": {
        **_TINY,
        "attention_head_dim": [2, 4],
        "use_linear_projection": True,
        "upcast_attention": True,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "resnet_time_scale_shift": "scale_shift",
        "flip_sin_to_cos": False,
        "freq_shift": 1,
    },
    # The x4 upscaler: 7 input channels (latents + low-res image), class_embed_type None with
    # num_class_embeds (the noise level is a class label), only-cross-attention per block.
    "x4-upscaler": {
        **_TINY,
        "in_channels": 7,
        "class_embed_type": None,
        "num_class_embeds": 10,
        "only_cross_attention": [True, False],
        "use_linear_projection": True,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    },
    # SDXL: text_time added conditioning, several transformer layers per block.
    "sdxl": {
        **_TINY,
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 16 + 6 * 8,
        "transformer_layers_per_block": [1, 2],
        "use_linear_projection": True,
        "attention_head_dim": [2, 4],
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    },
    # Odd bits: three levels, timestep class embedding, center_input_sample, mid UNetMidBlock2D.
    "timestep-class-three-levels": {
        **_TINY,
        "block_out_channels": [16, 32, 32],
        "layers_per_block": 1,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "class_embed_type": "timestep",
        "center_input_sample": True,
        "mid_block_type": "UNetMidBlock2D",
        "time_embedding_act_fn": "silu",
    },
}


def _inputs(name: str, config: dict, height: int = 16, width: int = 16) -> dict:
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "sample": torch.randn(2, config.get("in_channels", 4), height, width, generator=generator),
        "timestep": torch.tensor([10, 700]),
        "encoder_hidden_states": torch.randn(2, 5, 24, generator=generator),
    }
    if config.get("num_class_embeds"):
        inputs["class_labels"] = torch.tensor([3, 7])
    if config.get("class_embed_type") == "timestep":
        inputs["class_labels"] = torch.tensor([20, 400])
    if config.get("addition_embed_type") == "text_time":
        inputs["added_cond_kwargs"] = {
            "text_embeds": torch.randn(2, 16, generator=generator),
            "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64], [32, 48, 4, 2, 64, 64]]),
        }
    return inputs


def _pair(name: str, tmp_path) -> tuple[torch.nn.Module, UNet2DConditionModel]:
    torch.manual_seed(0)
    reference = diffusers.UNet2DConditionModel(**CONFIGS[name]).eval()
    return reference, load_like_reference(UNet2DConditionModel, reference, tmp_path)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_reference_checkpoint_loads_and_matches(name, tmp_path):
    reference, ours = _pair(name, tmp_path)
    inputs = _inputs(name, CONFIGS[name])
    with torch.no_grad():
        assert_close(ours(**inputs).sample, reference(**inputs).sample)


@pytest.mark.parametrize("name", ["sd1", "sdxl"])
def test_odd_sizes_scalar_timestep_and_masks_match(name, tmp_path):
    reference, ours = _pair(name, tmp_path)
    inputs = _inputs(name, CONFIGS[name], height=14, width=10)
    inputs["timestep"] = 321
    keep = torch.ones(2, 5)
    keep[1, 3:] = 0
    inputs["encoder_attention_mask"] = keep
    with torch.no_grad():
        expected = reference(**inputs).sample
        got = ours(**inputs, return_dict=False)[0]
    assert got.shape == (2, 4, 14, 10)
    assert_close(got, expected)


def test_controlnet_residuals_match(tmp_path):
    reference, ours = _pair("sd1", tmp_path)
    inputs = _inputs("sd1", CONFIGS["sd1"])
    generator = torch.Generator().manual_seed(5)
    shapes = [(32, 16), (32, 16), (32, 16), (32, 8), (64, 8), (64, 8)]
    inputs["down_block_additional_residuals"] = tuple(
        torch.randn(2, c, s, s, generator=generator) for c, s in shapes
    )
    inputs["mid_block_additional_residual"] = torch.randn(2, 64, 8, 8, generator=generator)
    with torch.no_grad():
        assert_close(ours(**inputs).sample, reference(**inputs).sample)


@pytest.mark.parametrize("size", ["auto", "max", 1])
def test_sliced_attention_matches_default_and_reference(size, tmp_path):
    reference, ours = _pair("sd2", tmp_path)
    inputs = _inputs("sd2", CONFIGS["sd2"])
    with torch.no_grad():
        default = ours(**inputs).sample
        ours.set_attention_slice(size)
        reference.set_attention_slice(size)
        sliced = ours(**inputs).sample
        assert_close(sliced, default, 1e-5)
        assert_close(sliced, reference(**inputs).sample)


def test_processor_keys_match_reference(tmp_path):
    reference, ours = _pair("sdxl", tmp_path)
    assert sorted(ours.attn_processors) == sorted(reference.attn_processors)


def test_saved_checkpoint_loads_in_reference(tmp_path):
    _, ours = _pair("x4-upscaler", tmp_path / "theirs")
    ours.save_pretrained(tmp_path / "ours")
    back = diffusers.UNet2DConditionModel.from_pretrained(tmp_path / "ours").eval()
    inputs = _inputs("x4-upscaler", CONFIGS["x4-upscaler"])
    with torch.no_grad():
        assert_close(back(**inputs).sample, ours(**inputs).sample)


SD15_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
}


@pytest.mark.slow
def test_stable_diffusion_15_architecture_loads_every_key_and_matches(tmp_path):
    """The full SD 1.5 UNet (random weights, saved as the fp16 variant to halve the I/O)."""
    torch.manual_seed(0)
    reference = diffusers.UNet2DConditionModel(**SD15_UNET).eval().half()
    reference.save_pretrained(tmp_path, variant="fp16")
    reference.float()
    ours = UNet2DConditionModel.from_pretrained(
        tmp_path, variant="fp16", torch_dtype=torch.float32
    ).eval()
    theirs = reference.state_dict()
    mine = ours.state_dict()
    assert sorted(mine) == sorted(theirs)
    assert len(mine) == 686
    for key, value in theirs.items():
        assert mine[key].dtype == torch.float32, key
        assert torch.equal(mine[key], value), f"{key} differs after loading"
    del mine, theirs
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "sample": torch.randn(1, 4, 8, 8, generator=generator),
        "timestep": torch.tensor([999]),
        "encoder_hidden_states": torch.randn(1, 77, 768, generator=generator),
    }
    with torch.no_grad():
        assert_close(ours(**inputs).sample, reference(**inputs).sample)
