"""What the pipelines of this package share: the UNet denoiser and the kernel call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from diffusekit import kernel
from diffusekit.pipeline import DiffusionPipeline


class UnconditionalPipeline(DiffusionPipeline):
    """Base of the pipelines here: a `unet` called as ``unet(sample, timestep).sample``."""

    _callback_tensor_inputs: ClassVar[list[str]] = ["latents"]
    unet: Any

    def _unet(self, sample: torch.Tensor, timestep: Any, state: kernel.State) -> torch.Tensor:
        return self.unet(sample, timestep).sample

    def _denoise(
        self,
        run: kernel.Schedule,
        latents: torch.Tensor,
        *,
        callback_on_step_end: kernel.Callback | None,
        callback_on_step_end_tensor_inputs: Sequence[str] | None,
        step_options: Mapping[str, Any] | None = None,
        step: kernel.StepTransform = kernel.scheduler_step,
        denoiser: kernel.Denoiser | None = None,
        state: kernel.State | None = None,
    ) -> torch.Tensor:
        """Run the kernel's loop from `latents` and return the final sample.

        `state` (optional) is the loop's state dict, for a `step` that records more than the
        latents in it (the score-SDE pipelines keep the noise-free mean there).
        """
        state = {} if state is None else state
        state["latents"] = latents
        return kernel.denoise(
            self,
            run,
            state,
            denoiser=denoiser or self._unet,
            step_options=step_options,
            step=step,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs or ("latents",),
        )
