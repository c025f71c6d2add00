"""Forward-process noising: x_t from x_0 and noise (seeded noise itself: `diffusekit.noise`)."""

from __future__ import annotations

import torch


def _per_sample(values: torch.Tensor, ndim: int) -> torch.Tensor:
    values = values.flatten()
    return values.reshape(values.shape[0], *([1] * (ndim - 1)))


def add_noise_vp(
    alphas_cumprod: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
) -> torch.Tensor:
    """q(x_t | x_0) of DDPM (Ho et al. 2020, eq. 4): sqrt(a_t) x0 + sqrt(1 - a_t) eps."""
    a = alphas_cumprod.to(device=x0.device, dtype=x0.dtype)
    t = torch.as_tensor(timesteps).to(x0.device)
    a_t = a[t]
    return _per_sample(a_t**0.5, x0.ndim) * x0 + _per_sample((1 - a_t) ** 0.5, x0.ndim) * noise


def add_noise_ve(sigmas: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x = x0 + sigma eps, one sigma per batch item."""
    return x0 + noise * _per_sample(sigmas.to(device=x0.device, dtype=x0.dtype), x0.ndim)
