"""AutoencoderKL on its own: validation, posterior, slicing, tiling, legacy key names."""

from __future__ import annotations

import pytest
import torch
from diffusekit_models.autoencoder_kl import AutoencoderKL
from diffusekit_models.tiling import blend_columns, blend_rows
from safetensors.torch import load_file, save_file

from diffusekit.errors import ConfigError

TINY = {
    "block_out_channels": [8, 16],
    "down_block_types": ["DownEncoderBlock2D"] * 2,
    "up_block_types": ["UpDecoderBlock2D"] * 2,
    "norm_num_groups": 4,
    "sample_size": 16,
}


def _vae(**overrides: object) -> AutoencoderKL:
    torch.manual_seed(0)
    return AutoencoderKL(**{**TINY, **overrides}).eval()


def _images(batch: int = 2, height: int = 16, width: int = 16) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(batch, 3, height, width, generator=generator) * 2 - 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"up_block_types": ["UpDecoderBlock2D"]}, "up_block_types"),
        ({"down_block_types": ["DownBlock2D"] * 2}, "down_block_types"),
        ({"act_fn": "tanh"}, "act_fn"),
    ],
)
def test_invalid_configs_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        _vae(**overrides)


def test_posterior_shapes_mode_and_seeded_sampling() -> None:
    vae = _vae()
    with torch.no_grad():
        posterior = vae.encode(_images()).latent_dist
    assert posterior.mean.shape == (2, 4, 8, 8)
    assert posterior.mode() is posterior.mean
    first = posterior.sample(torch.Generator().manual_seed(3))
    again = posterior.sample(torch.Generator().manual_seed(3))
    other = posterior.sample(torch.Generator().manual_seed(4))
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    assert not torch.equal(first, other)
    noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, posterior.mean + posterior.std * noise)
    per_sample = posterior.sample(
        [torch.Generator().manual_seed(3), torch.Generator().manual_seed(4)]
    )
    torch.testing.assert_close(per_sample[0], first[0])


def test_slicing_equals_batched() -> None:
    vae = _vae()
    images = _images(batch=3)
    with torch.no_grad():
        latents = vae.encode(images).latent_dist.mode()
        decoded = vae.decode(latents).sample
        vae.enable_slicing()
        torch.testing.assert_close(
            vae.encode(images).latent_dist.mode(), latents, atol=1e-5, rtol=0
        )
        torch.testing.assert_close(vae.decode(latents).sample, decoded, atol=1e-5, rtol=0)


def test_blending_ramps_linearly_across_the_overlap() -> None:
    upper = torch.zeros(1, 1, 6, 3)
    lower = torch.ones(1, 1, 6, 3)
    rows = blend_rows(upper, lower, 4)
    torch.testing.assert_close(rows[0, 0, :, 0], torch.tensor([0, 0.25, 0.5, 0.75, 1, 1]))
    columns = blend_columns(upper.transpose(2, 3), lower.transpose(2, 3), 4)
    torch.testing.assert_close(columns[0, 0, 0], torch.tensor([0, 0.25, 0.5, 0.75, 1, 1]))


def test_tiling_only_engages_above_one_tile_and_keeps_the_size() -> None:
    vae = _vae()
    small = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    large = torch.randn(1, 4, 20, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        plain_small = vae.decode(small).sample
        plain_large = vae.decode(large).sample
        vae.enable_tiling()
        torch.testing.assert_close(vae.decode(small).sample, plain_small, atol=0, rtol=0)
        tiled = vae.decode(large).sample
    assert tiled.shape == plain_large.shape == (1, 3, 40, 24)
    assert not torch.equal(tiled, plain_large)
    assert torch.isfinite(tiled).all()


def test_legacy_attention_names_load(tmp_path) -> None:
    vae = _vae()
    vae.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "diffusion_pytorch_model.safetensors")
    old = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    renamed = {}
    for key, value in weights.items():
        for new, legacy in old.items():
            key = key.replace(f"attentions.0.{new}.", f"attentions.0.{legacy}.")
        renamed[key] = value
    assert "encoder.mid_block.attentions.0.query.weight" in renamed
    save_file(renamed, tmp_path / "diffusion_pytorch_model.safetensors")
    loaded = AutoencoderKL.from_pretrained(tmp_path)
    for key, value in vae.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_round_trip_and_forward_is_encode_mode_decode(tmp_path) -> None:
    vae = _vae(scaling_factor=0.5, force_upcast=False)
    vae.save_pretrained(tmp_path)
    loaded = AutoencoderKL.from_pretrained(tmp_path)
    assert loaded.config.scaling_factor == 0.5
    assert loaded.config.force_upcast is False
    images = _images()
    with torch.no_grad():
        expected = vae.decode(vae.encode(images).latent_dist.mode()).sample
        torch.testing.assert_close(loaded(images).sample, expected, atol=0, rtol=0)
