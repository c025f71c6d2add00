"""Layers of the 1D/2D U-Nets and the VQ model that need no model class: FIR and 1D
resampling filters, Fourier features, vector quantization."""

from __future__ import annotations

import math

import pytest
import torch
from diffusekit_models.fir import FirDownsample2D, FirUpsample2D
from diffusekit_models.fourier import GaussianFourierProjection
from diffusekit_models.unet_1d_blocks import Downsample1d, Upsample1d, resample_kernel
from diffusekit_models.vector_quantizer import VectorQuantizer


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ["linear", "cubic", "lanczos3"])
def test_resampling_filters_keep_constant_signals(name):
    taps = resample_kernel(name)
    assert torch.allclose(taps, taps.flip(0))
    assert abs(taps.sum().item() - 1) < 1e-6
    constant = torch.full((1, 3, 32), 2.5)
    torch.testing.assert_close(Downsample1d(name)(constant), torch.full((1, 3, 16), 2.5))
    torch.testing.assert_close(Upsample1d(name)(constant), torch.full((1, 3, 64), 2.5))


def test_cubic_filter_is_keys_cubic_at_quarter_offsets():
    expected = torch.tensor([-3, -9, 29, 111, 111, 29, -9, -3]) / 256
    torch.testing.assert_close(resample_kernel("cubic"), expected.float())


def test_fir_resampling_keeps_constant_images_away_from_borders():
    constant = torch.full((1, 2, 8, 8), 3.0)
    down = FirDownsample2D(2)(constant)
    up = FirUpsample2D(2)(constant)
    assert down.shape == (1, 2, 4, 4) and up.shape == (1, 2, 16, 16)
    torch.testing.assert_close(down[..., 1:-1, 1:-1], torch.full((1, 2, 2, 2), 3.0))
    torch.testing.assert_close(up[..., 2:-2, 2:-2], torch.full((1, 2, 12, 12), 3.0))


def test_fir_downsampling_is_the_binomial_filter():
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, 4, 4] = 64.0
    down = FirDownsample2D(1)(image)
    expected = torch.zeros(1, 1, 4, 4)
    # pixel (4, 4) reaches outputs 1 and 2 along each axis with taps 1 and 3 (padding 1).
    expected[0, 0, 1:3, 1:3] = torch.outer(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(down, expected)


def test_gaussian_fourier_projection_layout():
    projection = GaussianFourierProjection(4, scale=1.0, log=False, flip_sin_to_cos=True)
    x = torch.tensor([0.25])
    phase = x[:, None] * projection.weight[None] * 2 * math.pi
    torch.testing.assert_close(projection(x), torch.cat([phase.cos(), phase.sin()], dim=-1))
    logged = GaussianFourierProjection(4, log=True)
    torch.testing.assert_close(
        logged(torch.tensor([1.0])), torch.cat([torch.zeros(1, 4), torch.ones(1, 4)], -1)
    )


def test_quantizer_snaps_to_the_nearest_codebook_entry():
    quantizer = VectorQuantizer(16, 4, beta=0.25)
    z = _randn(2, 4, 3, 5) * 0.1
    z_q, _, (_, _, indices) = quantizer(z)
    vectors = z.permute(0, 2, 3, 1).reshape(-1, 4)
    distances = ((vectors[:, None, :] - quantizer.embedding.weight[None]) ** 2).sum(-1)
    assert torch.equal(indices, distances.argmin(1))
    expected = quantizer.embedding.weight[indices].view(2, 3, 5, 4).permute(0, 3, 1, 2)
    torch.testing.assert_close(z_q, expected)


def test_quantizer_loss_weights_and_straight_through_gradient():
    z = (_randn(1, 4, 2, 2) * 0.1).requires_grad_()
    legacy = VectorQuantizer(8, 4, beta=0.25)
    fixed = VectorQuantizer(8, 4, beta=0.25, legacy=False)
    fixed.load_state_dict(legacy.state_dict())
    z_q, loss_legacy, _ = legacy(z)
    _, loss_fixed, _ = fixed(z)
    mse = torch.mean((z_q.detach() - z.detach()) ** 2)
    torch.testing.assert_close(loss_legacy.detach(), 1.25 * mse)
    torch.testing.assert_close(loss_fixed.detach(), 1.25 * mse)
    z_q.sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))


def test_quantizer_sane_index_shape_and_codebook_lookup():
    quantizer = VectorQuantizer(8, 4, beta=0.25, sane_index_shape=True)
    z_q, _, (_, _, indices) = quantizer(_randn(2, 4, 3, 3))
    assert indices.shape == (2, 3, 3)
    looked_up = quantizer.get_codebook_entry(indices.flatten(), (2, 3, 3, 4))
    torch.testing.assert_close(looked_up, z_q)
