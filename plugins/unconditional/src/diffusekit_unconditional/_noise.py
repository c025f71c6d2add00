"""The initial noise of every pipeline, drawn exactly as the reference pipelines draw it."""

from __future__ import annotations

from collections.abc import Sequence

import torch

Generator = torch.Generator | list[torch.Generator] | None


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
    """Standard normal noise of `shape` on `device`.

    A CPU generator draws on the CPU and the result moves to `device`, so a seed gives the same
    numbers on every device. A list of generators draws each batch item from its own generator,
    so image i of a batch equals the single image its generator gives.
    """
    check_generator(generator, shape[0])
    target = torch.device(device) if device is not None else torch.device("cpu")
    gens = generator[0] if isinstance(generator, list) and len(generator) == 1 else generator
    first = gens[0] if isinstance(gens, list) else gens
    draw_on = target
    if first is not None and first.device.type != target.type:
        if first.device.type != "cpu":
            raise ValueError(
                f"generator: a {first.device.type} generator cannot draw noise for a "
                f"{target.type} tensor; pass a CPU generator or one on {target.type}"
            )
        draw_on = torch.device("cpu")
    if isinstance(gens, list):
        one = (1, *shape[1:])
        parts = [torch.randn(one, generator=g, device=draw_on, dtype=dtype) for g in gens]
        return torch.cat(parts).to(target)
    return torch.randn(tuple(shape), generator=gens, device=draw_on, dtype=dtype).to(target)


def image_shape(unet: torch.nn.Module, batch_size: int) -> tuple[int, ...]:
    """(batch, channels, height, width) of the UNet's samples (`sample_size` int or pair)."""
    config = unet.config
    size = config.sample_size
    spatial = (size, size) if isinstance(size, int) else tuple(size)
    return (batch_size, config.in_channels, *spatial)
