"""The initial noise of every pipeline, drawn exactly as the reference pipelines draw it."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from diffusekit.noise import Generator, check_generators, randn_tensor


def randn(
    shape: Sequence[int],
    generator: Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The initial noise: one generator per image when a list is given (its length checked)."""
    check_generators(generator, shape[0], exact=True, counted=" (batch_size)")
    return randn_tensor(shape, generator, device, dtype)


def image_shape(unet: torch.nn.Module, batch_size: int) -> tuple[int, ...]:
    """(batch, channels, height, width) of the UNet's samples (`sample_size` int or pair)."""
    config = unet.config
    size = config.sample_size
    spatial = (size, size) if isinstance(size, int) else tuple(size)
    return (batch_size, config.in_channels, *spatial)
