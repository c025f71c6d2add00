"""What the pipelines of this package share: the components, the initial noise, the UNet
denoiser and the kernel call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch

from diffusekit import kernel
from diffusekit.pipeline import DiffusionPipeline

from ._noise import Generator, image_shape, randn


class UnconditionalPipeline(DiffusionPipeline):
    """Base of the pipelines here: a `unet` called as ``unet(sample, timestep).sample``.

    Components: `unet` and `scheduler`; a pipeline with more overrides `__init__`.
    """

    _callback_tensor_inputs: ClassVar[list[str]] = ["latents"]
    unet: Any
    scheduler: Any

    def __init__(self, unet: Any, scheduler: Any) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    def _initial_noise(self, batch_size: int, generator: Generator) -> torch.Tensor:
        """`batch_size` standard normal samples of the UNet's shape and dtype."""
        shape = image_shape(self.unet, batch_size)
        return randn(shape, generator, self._execution_device, self.unet.dtype)

    def _sample(
        self,
        batch_size: int,
        generator: Generator,
        num_inference_steps: int,
        *,
        callback_on_step_end: kernel.Callback | None,
        callback_on_step_end_tensor_inputs: Sequence[str] | None,
        step_options: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """The plain sampler: unscaled noise, then the scheduler's own step at every timestep.

        The noise is not multiplied by the scheduler's `init_noise_sigma`, as in the
        reference's DDPM, DDIM and PNDM pipelines.
        """
        noise = self._initial_noise(batch_size, generator)
        run = kernel.schedule(self.scheduler, num_inference_steps, self._execution_device)
        return self._denoise(
            run,
            noise,
            step_options=step_options,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )

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
