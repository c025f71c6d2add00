"""UNet1DModel on its own: configuration, shapes, dtypes, resampling filters, save/load."""

from __future__ import annotations

import pytest
import torch
from diffusekit_models.unet_1d import UNet1DModel

from diffusekit.errors import ConfigError

DANCE = {
    "block_out_channels": (32, 32, 64),
    "extra_in_channels": 16,
    "sample_size": 64,
    "in_channels": 2,
    "out_channels": 2,
}

VALUE_FUNCTION = {
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownResnetBlock1D"] * 2,
    "up_block_types": [],
    "out_block_type": "ValueFunction",
    "mid_block_type": "ValueFunctionMidBlock1D",
    "block_out_channels": [16, 32],
    "downsample_each_block": True,
    "use_timestep_embedding": True,
    "time_embedding_type": "positional",
    "act_fn": "mish",
}


def _sample(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0)).to(dtype)


def test_dance_unet_keeps_the_sample_shape():
    model = UNet1DModel(**DANCE).eval()
    with torch.no_grad():
        out = model(_sample(3, 2, 64), torch.tensor([0.1, 0.5, 0.9])).sample
    assert out.shape == (3, 2, 64)
    assert torch.isfinite(out).all()
    assert model.sample_size == 64


def test_fourier_width_follows_extra_in_channels_when_concatenated():
    model = UNet1DModel(**DANCE)
    assert model.time_proj.weight.shape == (8,)
    assert model.config.time_embedding_dim is None
    explicit = UNet1DModel(**{**DANCE, "extra_in_channels": 64, "time_embedding_dim": 64})
    assert explicit.time_proj.weight.shape == (32,)


def test_value_function_returns_one_value_per_sample():
    model = UNet1DModel(**VALUE_FUNCTION).eval()
    with torch.no_grad():
        out = model(_sample(2, 4, 16), torch.tensor([3, 7])).sample
    assert out.shape == (2, 1)


def test_return_dict_false_gives_a_tuple():
    model = UNet1DModel(**DANCE).eval()
    with torch.no_grad():
        (out,) = model(_sample(1, 2, 64), 0.5, return_dict=False)
    assert out.shape == (1, 2, 64)


def test_python_float_timestep_is_not_truncated():
    model = UNet1DModel(**DANCE).eval()
    sample = _sample(1, 2, 64)
    with torch.no_grad():
        from_float = model(sample, 0.5).sample
        from_tensor = model(sample, torch.tensor([0.5])).sample
        at_zero = model(sample, torch.tensor([0.0])).sample
    torch.testing.assert_close(from_float, from_tensor)
    assert not torch.allclose(from_float, at_zero)


def test_one_timestep_is_shared_by_the_batch():
    model = UNet1DModel(**DANCE).eval()
    sample = _sample(2, 2, 64)
    with torch.no_grad():
        shared = model(sample, torch.tensor(0.3)).sample
        each = model(sample, torch.tensor([0.3, 0.3])).sample
    torch.testing.assert_close(shared, each)


def test_float64_weights_give_float64_output():
    model = UNet1DModel(**DANCE).eval().to(torch.float64)
    with torch.no_grad():
        out = model(_sample(1, 2, 64, dtype=torch.float64), torch.tensor([0.5])).sample
    assert out.dtype == torch.float64


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"down_block_types": ["DownBlock1D"]}, "down_block_types"),
        ({"down_block_types": ["DownBlock1DNoSkip", "DownBlock1D", "Nope"]}, "down_block_types"),
        ({"time_embedding_type": "learned"}, "time_embedding_type"),
        ({"time_embedding_dim": 15}, "time_embedding_dim"),
        ({"out_block_type": "OutConv1DBlock"}, "act_fn"),
    ],
)
def test_bad_configs_are_rejected_naming_the_field(override, field):
    with pytest.raises(ConfigError, match=field):
        UNet1DModel(**{**DANCE, **override})


def test_save_and_load_round_trip(tmp_path):
    model = UNet1DModel(**DANCE).eval()
    model.save_pretrained(tmp_path)
    loaded = UNet1DModel.from_pretrained(tmp_path).eval()
    sample = _sample(1, 2, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(sample, 0.4).sample, model(sample, 0.4).sample)
    assert loaded.config.block_out_channels == [32, 32, 64]
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_bfloat16_model():
    model = UNet1DModel(**DANCE).eval().to(torch.bfloat16)
    with torch.no_grad():
        out = model(_sample(1, 2, 64, dtype=torch.bfloat16), torch.tensor([0.5])).sample
    assert out.dtype == torch.bfloat16


def test_registered_as_the_reference_class_name():
    from diffusekit import registry

    assert registry.resolve("diffusers", "UNet1DModel") is UNet1DModel
