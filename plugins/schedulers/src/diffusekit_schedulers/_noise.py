"""Gaussian noise drawn exactly as the reference draws it, and forward-process noising."""

from __future__ import annotations

from collections.abc import Sequence

import torch

Generator = torch.Generator | Sequence[torch.Generator] | None


def randn(
    shape: Sequence[int],
    generator: Generator = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    layout: torch.layout | None = None,
) -> torch.Tensor:
    """Standard normal noise of `shape` on `device`, seeded by `generator`.

    A CPU generator draws on the CPU and the result is moved, so a seed gives the same numbers
    on every device. A list of generators seeds each batch item separately.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    layout = layout or torch.strided
    gens = list(generator) if isinstance(generator, Sequence) else generator
    if isinstance(gens, list) and len(gens) == 1:
        gens = gens[0]
    first = gens[0] if isinstance(gens, list) else gens
    draw_on = device
    if first is not None and first.device.type != device.type:
        if first.device.type != "cpu":
            raise ValueError(
                f"generator: a {first.device.type} generator cannot draw noise for a "
                f"{device.type} tensor; pass a CPU generator or one on {device.type}"
            )
        draw_on = torch.device("cpu")
    if isinstance(gens, list):
        one = (1, *shape[1:])
        parts = [
            torch.randn(one, generator=g, device=draw_on, dtype=dtype, layout=layout) for g in gens
        ]
        return torch.cat(parts, dim=0).to(device)
    return torch.randn(tuple(shape), generator=gens, device=draw_on, dtype=dtype, layout=layout).to(
        device
    )


def randn_like(
    like: torch.Tensor, generator: Generator = None, layout: torch.layout | None = None
) -> torch.Tensor:
    return randn(like.shape, generator, like.device, like.dtype, layout)


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
