"""Seeded Gaussian noise drawn the way the reference draws it, so a seed gives its numbers."""

from __future__ import annotations

from collections.abc import Sequence

import torch

Generator = torch.Generator | list[torch.Generator] | None


def randn(
    shape: Sequence[int],
    generator: Generator,
    device: torch.device | str,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Standard normal noise of `shape`, seeded by `generator`, on `device`.

    A CPU generator draws on the CPU and the noise is moved, so a seed gives the same image on
    every device. A list of generators draws batch row ``i`` from ``generator[i]``, so an
    image does not depend on the batch it is generated in.
    """
    device = torch.device(device)
    if isinstance(generator, list) and len(generator) == 1:
        generator = generator[0]
    if isinstance(generator, list):
        rows = [randn((1, *shape[1:]), g, device, dtype) for g in generator]
        return torch.cat(rows, dim=0)
    draw_on = device
    if generator is not None and generator.device.type != device.type:
        if generator.device.type != "cpu":
            raise ValueError(
                f"generator: a {generator.device.type} generator cannot draw noise for "
                f"{device.type}; pass a CPU generator or one on {device.type}"
            )
        draw_on = torch.device("cpu")
    noise = torch.randn(tuple(shape), generator=generator, device=draw_on, dtype=dtype)
    return noise.to(device)
