"""VQModel against the reference: tiny checkpoints it writes load and give its numbers."""

from __future__ import annotations

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_models.vq_model import VQModel  # noqa: E402

from ._reference_io import assert_close, load_like_reference  # noqa: E402

pytestmark = pytest.mark.parity

CONFIGS = {
    "ldm-vq-layout": {
        "block_out_channels": [32, 64],
        "norm_num_groups": 32,
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        "latent_channels": 3,
        "num_vq_embeddings": 32,
    },
    "embed-dim-no-mid-attention": {
        "block_out_channels": [32, 32],
        "norm_num_groups": 16,
        "layers_per_block": 2,
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        "latent_channels": 4,
        "vq_embed_dim": 3,
        "num_vq_embeddings": 16,
        "mid_block_add_attention": False,
        "scaling_factor": 0.5,
    },
    "movq-spatial-norm": {
        "block_out_channels": [32, 64],
        "norm_num_groups": 32,
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        "latent_channels": 4,
        "num_vq_embeddings": 32,
        "norm_type": "spatial",
    },
}


def _reference(name: str, tmp_path):
    torch.manual_seed(0)
    reference = diffusers.VQModel(**CONFIGS[name]).eval()
    return reference, load_like_reference(VQModel, reference, tmp_path)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_reference_checkpoint_loads_and_matches(name, tmp_path):
    reference, ours = _reference(name, tmp_path)
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected_latents = reference.encode(images).latents
        latents = ours.encode(images).latents
        assert_close(latents, expected_latents)
        expected = reference.decode(expected_latents)
        got = ours.decode(expected_latents)
        assert_close(got.sample, expected.sample)
        assert_close(got.commit_loss, expected.commit_loss)
        unquantized = ours.decode(expected_latents, force_not_quantize=True).sample
        assert_close(
            unquantized, reference.decode(expected_latents, force_not_quantize=True).sample
        )
        assert_close(ours(images).sample, reference(images).sample)


def test_codebook_lookup_matches_reference(tmp_path):
    config = {**CONFIGS["ldm-vq-layout"], "lookup_from_codebook": True}
    torch.manual_seed(0)
    reference = diffusers.VQModel(**config).eval()
    ours = load_like_reference(VQModel, reference, tmp_path)
    indices = torch.randint(0, 32, (2 * 8 * 8,), generator=torch.Generator().manual_seed(4))
    shape = (2, 8, 8, 3)
    with torch.no_grad():
        expected = reference.decode(indices, force_not_quantize=True, shape=shape).sample
        got = ours.decode(indices, force_not_quantize=True, shape=shape).sample
    assert_close(got, expected)


def test_saved_by_us_loads_in_reference(tmp_path):
    ours = VQModel(**CONFIGS["ldm-vq-layout"]).eval()
    ours.save_pretrained(tmp_path)
    reference = diffusers.VQModel.from_pretrained(tmp_path).eval()
    images = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert_close(ours(images).sample, reference(images).sample)
