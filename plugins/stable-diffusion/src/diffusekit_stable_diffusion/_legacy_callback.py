"""The reference's older per-step callback, ``callback(step, timestep, latents)``, as a kernel
transform (the upscaler and Safe Stable Diffusion still take it).

It is called after a step whenever the progress bar advances and the step index is a multiple
of `callback_steps`; `step` is the loop index divided by the scheduler's order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from diffusekit import kernel

LegacyCallback = Callable[[int, torch.Tensor, torch.Tensor], Any]


def check_callback_steps(callback_steps: Any, *, required: bool) -> None:
    """A positive int (or None, where the pipeline allows leaving it out)."""
    if callback_steps is None and not required:
        return
    if isinstance(callback_steps, bool) or not isinstance(callback_steps, int):
        raise TypeError(f"callback_steps: expected a positive int, found {callback_steps!r}")
    if callback_steps <= 0:
        raise ValueError(f"callback_steps: expected a positive int, found {callback_steps}")


def legacy_callback(
    callback: LegacyCallback | None, callback_steps: int | None
) -> list[kernel.StepTransform]:
    """The transforms to pass to the kernel: none without a callback."""
    if callback is None:
        return []
    every = callback_steps or 1

    def call(
        ctx: kernel.StepContext, index: int, t: torch.Tensor, latents: torch.Tensor
    ) -> torch.Tensor:
        run, order = ctx.run, ctx.scheduler.order
        last = index == len(run.timesteps) - 1
        advances = last or (index + 1 > run.num_warmup_steps and (index + 1) % order == 0)
        if advances and index % every == 0:
            callback(index // order, t, latents)
        return latents

    return [call]
