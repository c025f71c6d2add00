"""AutoencoderKL against the reference: checkpoints, posterior, slicing, tiling, legacy keys."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

diffusers = pytest.importorskip("diffusers")

from diffusekit_models.autoencoder_kl import AutoencoderKL  # noqa: E402

from ._reference_io import assert_close, load_like_reference  # noqa: E402

pytestmark = pytest.mark.parity

CONFIGS = {
    "two-levels": {
        "block_out_channels": [16, 32],
        "down_block_types": ["DownEncoderBlock2D"] * 2,
        "up_block_types": ["UpDecoderBlock2D"] * 2,
        "norm_num_groups": 8,
        "sample_size": 32,
    },
    "sd-vae-layout": {
        "block_out_channels": [8, 16, 16, 32],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "layers_per_block": 2,
        "norm_num_groups": 4,
        "sample_size": 32,
        "scaling_factor": 0.13025,
    },
    "no-quant-conv-no-mid-attention": {
        "block_out_channels": [16, 32],
        "down_block_types": ["DownEncoderBlock2D"] * 2,
        "up_block_types": ["UpDecoderBlock2D"] * 2,
        "norm_num_groups": 8,
        "use_quant_conv": False,
        "use_post_quant_conv": False,
        "mid_block_add_attention": False,
        "latent_channels": 3,
    },
}


def _pair(name: str, tmp_path):
    torch.manual_seed(0)
    reference = diffusers.AutoencoderKL(**CONFIGS[name]).eval()
    return reference, load_like_reference(AutoencoderKL, reference, tmp_path)


def _images(batch: int = 2, size: int = 32) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("name", list(CONFIGS))
def test_reference_checkpoint_loads_and_matches(name, tmp_path):
    reference, ours = _pair(name, tmp_path)
    images = _images()
    with torch.no_grad():
        theirs = reference.encode(images).latent_dist
        mine = ours.encode(images).latent_dist
        assert_close(mine.mean, theirs.mean)
        assert_close(mine.std, theirs.std)
        assert_close(
            mine.sample(torch.Generator().manual_seed(3)),
            theirs.sample(torch.Generator().manual_seed(3)),
        )
        assert_close(mine.kl(), theirs.kl(), 1e-3)
        latents = theirs.mode()
        assert_close(ours.decode(latents).sample, reference.decode(latents).sample)
        assert_close(ours(images).sample, reference(images).sample)
    assert ours.config.scaling_factor == reference.config.scaling_factor
    assert ours.config.force_upcast is True


def test_slicing_matches_reference(tmp_path):
    reference, ours = _pair("two-levels", tmp_path)
    ours.enable_slicing()
    reference.enable_slicing()
    images = _images(batch=3)
    with torch.no_grad():
        assert_close(
            ours.encode(images).latent_dist.mean, reference.encode(images).latent_dist.mean
        )
        latents = reference.encode(images).latent_dist.mode()
        assert_close(ours.decode(latents).sample, reference.decode(latents).sample)


def _to_image(decoded: torch.Tensor) -> torch.Tensor:
    return (decoded / 2 + 0.5).clamp(0, 1)


def test_tiled_decode_and_encode_match_reference_and_untiled(tmp_path):
    """A 40x56 latent (80x112 image) spans 3x4 tiles of 16 latents with blended seams.

    Tiled and untiled decoding of a random-weight VAE differ visibly (every tile has its own
    GroupNorm statistics), so the exact check is against the reference's tiled output; the
    untiled comparison uses the reference's bound (0.5) on the images a pipeline returns.
    """
    reference, ours = _pair("two-levels", tmp_path)
    latents = torch.randn(1, 4, 40, 56, generator=torch.Generator().manual_seed(2))
    images = _images(batch=1, size=80)
    with torch.no_grad():
        untiled = ours.decode(latents).sample
        ours.enable_tiling()
        reference.enable_tiling()
        tiled = ours.decode(latents).sample
        assert tiled.shape == untiled.shape == (1, 3, 80, 112)
        assert_close(tiled, reference.decode(latents).sample)
        difference = (_to_image(tiled) - _to_image(untiled)).abs()
        assert difference.max().item() < 0.5
        assert difference.mean().item() < 0.08
        assert not torch.equal(tiled, untiled)
        assert_close(
            ours.encode(images).latent_dist.mean, reference.encode(images).latent_dist.mean
        )
        assert_close(
            ours.tiled_decode(latents[:, :, :16, :16]).sample,
            reference.tiled_decode(latents[:, :, :16, :16]).sample,
        )
        ours.disable_tiling()
        assert torch.equal(ours.decode(latents).sample, untiled)


def test_legacy_attention_key_names_load(tmp_path):
    reference, _ = _pair("two-levels", tmp_path / "ref")
    old_names = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    weights = load_file(tmp_path / "ref" / "diffusion_pytorch_model.safetensors")
    renamed = {}
    for key, value in weights.items():
        for new, old in old_names.items():
            key = key.replace(f"attentions.0.{new}.", f"attentions.0.{old}.")
        renamed[key] = value
    assert "decoder.mid_block.attentions.0.proj_attn.weight" in renamed
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "config.json").write_text((tmp_path / "ref" / "config.json").read_text())
    save_file(renamed, legacy / "diffusion_pytorch_model.safetensors")
    ours = AutoencoderKL.from_pretrained(legacy).eval()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    images = _images()
    with torch.no_grad():
        assert_close(ours(images).sample, reference(images).sample)
