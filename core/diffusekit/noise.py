"""Seeded Gaussian noise, drawn the way the reference draws it so a seed gives its numbers.

Every pipeline, scheduler and model that draws noise uses `randn_tensor`, so "same seed,
same image" holds across them and across devices:

- a CPU generator draws on the CPU and the noise is moved to the target device, so a seed
  gives the same numbers on every device;
- a list of generators draws batch row ``i`` from ``generator[i]``, so an image does not
  depend on the batch it is generated in (a list of one is the same as that generator).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Generator = torch.Generator | Sequence[torch.Generator] | None


def check_generators(
    generator: Generator, batch_size: int, *, exact: bool = False, counted: str = ""
) -> None:
    """A list of generators seeds one item each, so it must have `batch_size` entries.

    A list of one stands for that generator unless `exact` (pipelines, like the reference's,
    ask for exactly one per image); `counted` says in the error how the batch size came about.
    """
    allowed = {batch_size} if exact else {1, batch_size}
    if isinstance(generator, Sequence) and len(generator) not in allowed:
        raise ValueError(
            f"generator: a list of generators seeds one item each; expected {batch_size}"
            f"{counted}, found {len(generator)}"
        )


def randn_tensor(
    shape: Sequence[int],
    generator: Generator = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    layout: torch.layout | None = None,
) -> torch.Tensor:
    """Standard normal noise of `shape` on `device` (default CPU), seeded by `generator`."""
    target = torch.device(device) if device is not None else torch.device("cpu")
    layout = layout or torch.strided
    check_generators(generator, shape[0])
    generators = list(generator) if isinstance(generator, Sequence) else [generator]
    draw_on = _drawing_device(generators[0], target)
    if len(generators) == 1:
        noise = torch.randn(
            tuple(shape), generator=generators[0], device=draw_on, dtype=dtype, layout=layout
        )
        return noise.to(target)
    row = (1, *shape[1:])
    rows = [
        torch.randn(row, generator=g, device=draw_on, dtype=dtype, layout=layout)
        for g in generators
    ]
    return torch.cat(rows, dim=0).to(target)


def randn_like(like: torch.Tensor, generator: Generator = None) -> torch.Tensor:
    return randn_tensor(like.shape, generator, like.device, like.dtype, like.layout)


def _drawing_device(generator: torch.Generator | None, target: torch.device) -> torch.device:
    if generator is None or generator.device.type == target.type:
        return target
    if generator.device.type != "cpu":
        raise ValueError(
            f"generator: a {generator.device.type} generator cannot draw noise for a "
            f"{target.type} tensor; pass a CPU generator or one on {target.type}"
        )
    return torch.device("cpu")
