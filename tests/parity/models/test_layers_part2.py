"""Layers shared by UNet1D/UNet2D/VQModel against the reference's layers of the same name."""

from __future__ import annotations

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_models.fir import FirDownsample2D, FirUpsample2D, fir_upsample_2d  # noqa: E402
from diffusekit_models.fourier import GaussianFourierProjection  # noqa: E402
from diffusekit_models.unet_1d_blocks import Downsample1d, Upsample1d  # noqa: E402
from diffusekit_models.vector_quantizer import VectorQuantizer  # noqa: E402
from diffusers.models import downsampling, embeddings, upsampling  # noqa: E402
from diffusers.models.autoencoders import vae  # noqa: E402
from diffusers.models.unets import unet_1d_blocks  # noqa: E402

from ._reference_io import assert_close  # noqa: E402

pytestmark = pytest.mark.parity


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def test_fir_resampling_matches_reference():
    x = _randn(2, 5, 8, 8)
    assert_close(FirUpsample2D(5)(x), upsampling.FirUpsample2D(5)(x), 1e-6)
    assert_close(FirDownsample2D(5)(x), downsampling.FirDownsample2D(5)(x), 1e-6)
    assert_close(fir_upsample_2d(x, (1, 2, 1), 3), upsampling.upsample_2d(x, (1, 2, 1), 3), 1e-6)


@pytest.mark.parametrize("kernel", ["linear", "cubic", "lanczos3"])
def test_1d_kernel_resampling_matches_reference(kernel):
    x = _randn(2, 3, 32)
    down, ref_down = Downsample1d(kernel), unet_1d_blocks.Downsample1d(kernel)
    up, ref_up = Upsample1d(kernel), unet_1d_blocks.Upsample1d(kernel)
    assert_close(down.kernel, ref_down.kernel, 1e-6)
    assert_close(up.kernel, ref_up.kernel, 1e-6)
    assert_close(down(x), ref_down(x), 1e-6)
    assert_close(up(x), ref_up(x), 1e-6)


@pytest.mark.parametrize(("log", "flip"), [(True, False), (False, True)])
def test_fourier_features_match_reference(log, flip):
    reference = embeddings.GaussianFourierProjection(
        8, scale=16, set_W_to_weight=True, log=log, flip_sin_to_cos=flip
    )
    ours = GaussianFourierProjection(8, scale=16, log=log, flip_sin_to_cos=flip)
    ours.load_state_dict(reference.state_dict())
    sigmas = torch.tensor([0.01, 1.0, 348.0])
    assert_close(ours(sigmas), reference(sigmas))


@pytest.mark.parametrize("legacy", [True, False])
def test_vector_quantizer_matches_reference(legacy):
    reference = vae.VectorQuantizer(16, 4, beta=0.25, legacy=legacy, sane_index_shape=True)
    ours = VectorQuantizer(16, 4, beta=0.25, legacy=legacy, sane_index_shape=True)
    ours.load_state_dict(reference.state_dict())
    z = _randn(2, 4, 3, 5) * 0.1
    ref_q, ref_loss, (_, _, ref_indices) = reference(z)
    q, loss, (_, _, indices) = ours(z)
    assert torch.equal(indices, ref_indices)
    assert_close(q, ref_q)
    assert_close(loss, ref_loss)
    shape = (2, 3, 5, 4)
    assert_close(
        ours.get_codebook_entry(indices.flatten(), shape),
        reference.get_codebook_entry(ref_indices.flatten(), shape),
    )
