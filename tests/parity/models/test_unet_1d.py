"""UNet1DModel against the reference: tiny checkpoints it writes load and give its numbers."""

from __future__ import annotations

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_models.unet_1d import UNet1DModel  # noqa: E402

from ._reference_io import assert_close, load_like_reference  # noqa: E402

pytestmark = pytest.mark.parity

DANCE = {
    "block_out_channels": (32, 32, 64),
    "extra_in_channels": 16,
    "time_embedding_dim": 16,
    "sample_size": 64,
    "sample_rate": 16_000,
    "in_channels": 2,
    "out_channels": 2,
    "flip_sin_to_cos": True,
    "use_timestep_embedding": False,
    "time_embedding_type": "fourier",
    "mid_block_type": "UNetMidBlock1D",
    "down_block_types": ["DownBlock1DNoSkip", "DownBlock1D", "AttnDownBlock1D"],
    "up_block_types": ["AttnUpBlock1D", "UpBlock1D", "UpBlock1DNoSkip"],
}

CONFIGS = {
    "dance-fourier": (DANCE, 64, "float"),
    "dance-positional-sin-first": (
        {
            **DANCE,
            "time_embedding_type": "positional",
            "time_embedding_dim": None,
            "extra_in_channels": 32,
            "flip_sin_to_cos": False,
            "freq_shift": 1.0,
            "down_block_types": ["DownBlock1DNoSkip", "AttnDownBlock1D", "DownBlock1D"],
            "up_block_types": ["UpBlock1D", "AttnUpBlock1D", "UpBlock1DNoSkip"],
        },
        64,
        "int",
    ),
    "temporal-unet": (
        {
            "block_out_channels": (8, 8, 16, 16),
            "in_channels": 14,
            "out_channels": 14,
            "time_embedding_type": "positional",
            "use_timestep_embedding": True,
            "flip_sin_to_cos": False,
            "freq_shift": 1.0,
            "out_block_type": "OutConv1DBlock",
            "mid_block_type": "MidResTemporalBlock1D",
            "down_block_types": ["DownResnetBlock1D"] * 4,
            "up_block_types": ["UpResnetBlock1D"] * 3,
            "act_fn": "swish",
        },
        16,
        "int",
    ),
    "value-function": (
        {
            "in_channels": 14,
            "out_channels": 14,
            "down_block_types": ["DownResnetBlock1D"] * 4,
            "up_block_types": [],
            "out_block_type": "ValueFunction",
            "mid_block_type": "ValueFunctionMidBlock1D",
            "block_out_channels": [32, 64, 128, 256],
            "layers_per_block": 1,
            "downsample_each_block": True,
            "use_timestep_embedding": True,
            "freq_shift": 1.0,
            "flip_sin_to_cos": False,
            "time_embedding_type": "positional",
            "act_fn": "mish",
        },
        16,
        "int",
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_reference_checkpoint_loads_and_matches(name, tmp_path):
    config, length, time_kind = CONFIGS[name]
    torch.manual_seed(0)
    reference = diffusers.UNet1DModel(**config).eval()
    ours = load_like_reference(UNet1DModel, reference, tmp_path)

    generator = torch.Generator().manual_seed(1)
    sample = torch.randn(2, config["in_channels"], length, generator=generator)
    timesteps = torch.tensor([0.25, 0.8]) if time_kind == "float" else torch.tensor([10, 999])
    with torch.no_grad():
        expected = reference(sample, timesteps).sample
        got = ours(sample, timesteps).sample
    assert_close(got, expected)


def test_fresh_resampling_buffers_match_reference():
    torch.manual_seed(0)
    reference = diffusers.UNet1DModel(**DANCE)
    ours = UNet1DModel(**DANCE).state_dict()
    kernels = {k: v for k, v in reference.state_dict().items() if k.endswith(".kernel")}
    assert kernels
    for key, value in kernels.items():
        assert torch.allclose(ours[key], value, atol=1e-6), key


def test_scalar_timestep_broadcasts_like_reference(tmp_path):
    torch.manual_seed(0)
    reference = diffusers.UNet1DModel(**DANCE).eval()
    ours = load_like_reference(UNet1DModel, reference, tmp_path)
    sample = torch.randn(3, 2, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert_close(
            ours(sample, torch.tensor(0.5)).sample, reference(sample, torch.tensor(0.5)).sample
        )


def test_saved_by_us_loads_in_reference(tmp_path):
    ours = UNet1DModel(**DANCE).eval()
    ours.save_pretrained(tmp_path)
    reference = diffusers.UNet1DModel.from_pretrained(tmp_path).eval()
    sample = torch.randn(1, 2, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert_close(
            ours(sample, torch.tensor([0.3])).sample, reference(sample, torch.tensor([0.3])).sample
        )


def test_dance_checkpoint_without_time_embedding_dim_loads(tmp_path):
    """harmonai's configs name no time_embedding_dim; their weights have 8 frequencies."""
    import json

    torch.manual_seed(0)
    reference = diffusers.UNet1DModel(**DANCE).eval()  # time_embedding_dim=16: 8 frequencies
    reference.save_pretrained(tmp_path)
    config_file = tmp_path / "config.json"
    saved = json.loads(config_file.read_text())
    del saved["time_embedding_dim"]
    config_file.write_text(json.dumps(saved))

    ours = UNet1DModel.from_pretrained(tmp_path).eval()
    assert ours.config.time_embedding_dim is None
    assert sorted(ours.state_dict()) == sorted(reference.state_dict())
    sample = torch.randn(2, 2, 64, generator=torch.Generator().manual_seed(5))
    t = torch.tensor([0.2, 0.9])
    with torch.no_grad():
        assert_close(ours(sample, t).sample, reference(sample, t).sample)
