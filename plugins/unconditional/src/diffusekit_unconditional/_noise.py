"""The initial noise of every pipeline, drawn exactly as the reference pipelines draw it."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from diffusekit.noise import Generator, randn_tensor


def check_generator(generator: Generator, batch_size: int) -> None:
    """A list of generators seeds one image each, so it must have `batch_size` entries."""
    if isinstance(generator, list) and len(generator) != batch_size:
        raise ValueError(
            f"generator: a list of generators seeds one image each; expected {batch_size} "
            f"(batch_size), found {len(generator)}"
        )


def randn(
    shape: Sequence[int],
    generator: Generator,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The initial noise: one generator per image when a list is given (its length checked)."""
    check_generator(generator, shape[0])
    return randn_tensor(shape, generator, device, dtype)


def image_shape(unet: torch.nn.Module, batch_size: int) -> tuple[int, ...]:
    """(batch, channels, height, width) of the UNet's samples (`sample_size` int or pair)."""
    config = unet.config
    size = config.sample_size
    spatial = (size, size) if isinstance(size, int) else tuple(size)
    return (batch_size, config.in_channels, *spatial)
