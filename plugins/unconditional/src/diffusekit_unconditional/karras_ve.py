"""KarrasVePipeline: the stochastic sampler of Karras et al. (2022) for VE models."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from diffusekit import kernel

from ._base import UnconditionalPipeline
from ._noise import Generator
from ._output import image_output, output_type_of, warn_ignored


def churn_euler_heun_step(
    generator: Generator, ctx: kernel.StepContext, index: int, t: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """Algorithm 2 of Karras et al. for one sigma: churn, an Euler step, Heun's correction.

    The noise is raised from sigma to sigma_hat, an Euler step goes to sigma_prev, and
    unless sigma_prev is 0 the step is redone with the mean of the two derivatives.
    """
    scheduler = ctx.scheduler
    sigma = scheduler.schedule[t]
    sigma_prev = scheduler.schedule[t - 1] if t > 0 else 0
    x_hat, sigma_hat = scheduler.add_noise_to_input(x, sigma, generator=generator)
    output = scheduler.step(ctx.predict(x_hat, sigma_hat), sigma_hat, sigma_prev, x_hat)
    if sigma_prev != 0:
        output = scheduler.step_correct(
            ctx.predict(output.prev_sample, sigma_prev),
            sigma_hat,
            sigma_prev,
            x_hat,
            output.prev_sample,
            output.derivative,
        )
    return output.prev_sample


class KarrasVePipeline(UnconditionalPipeline):
    """Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", arXiv:2206.00364, Algorithm 2 (stochastic sampler with 2nd-order correction).

    The UNet (trained on images in [0, 1] at noise level sigma / 2) is adapted to the
    sampler's [-1, 1] space: ``D(x, sigma) = sigma/2 * unet((x + 1) / 2, sigma / 2)``.
    Components: `unet` (UNet2DModel), `scheduler` (KarrasVeScheduler).
    """

    def _unet(self, sample: torch.Tensor, sigma: Any, state: kernel.State) -> torch.Tensor:
        return (sigma / 2) * self.unet((sample + 1) / 2, sigma / 2).sample

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        num_inference_steps: int = 50,
        generator: Generator = None,
        output_type: str | None = "pil",
        return_dict: bool = True,
        *,
        callback_on_step_end: kernel.Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Sample `batch_size` images; `output_type`: ``"pil"``, ``"np"`` or ``"pt"``."""
        warn_ignored(self, kwargs)
        output_type = output_type_of(output_type)
        noise = self._initial_noise(batch_size, generator)
        run = kernel.schedule(self.scheduler, num_inference_steps, self._execution_device)
        # A whole second-order step per timestep: count timesteps, not model calls.
        run.order = 1
        images = self._denoise(
            run,
            noise * run.scheduler.init_noise_sigma,
            step=partial(churn_euler_heun_step, generator),
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        return image_output(images, output_type, return_dict)
