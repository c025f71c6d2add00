"""Gaussian noise that is reproducible from a `torch.Generator`, whatever the target device."""

from __future__ import annotations

import torch


def randn(
    shape: tuple[int, ...],
    generator: torch.Generator | list[torch.Generator] | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device, then moved to `device`.

    A list of generators draws one batch row from each (the reference's convention), so a
    sample does not depend on the batch it is in.
    """
    if isinstance(generator, list):
        if len(generator) != shape[0]:
            raise ValueError(
                f"got {len(generator)} generators for a batch of {shape[0]}; pass one per sample"
            )
        rows = [randn((1, *shape[1:]), g, device, dtype) for g in generator]
        return torch.cat(rows, dim=0)
    draw_on = generator.device if generator is not None else device
    noise = torch.randn(shape, generator=generator, device=draw_on, dtype=dtype)
    return noise.to(device)
