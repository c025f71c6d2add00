"""ScoreSdeVePipeline: predictor-corrector sampling of the variance-exploding score SDE."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from diffusekit import kernel

from ._base import UnconditionalPipeline
from ._noise import Generator
from ._output import image_output, output_type_of, warn_ignored


def predictor_corrector_step(
    generator: Generator, ctx: kernel.StepContext, index: int, t: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """`correct_steps` Langevin corrections, then one reverse-diffusion predictor step.

    The network is conditioned on the noise level sigma(t); the predictor's noise-free mean
    is kept in ``state["sample_mean"]``, the pipeline's output after the last step.
    """
    scheduler = ctx.scheduler
    sigma = scheduler.sigmas[index] * torch.ones(x.shape[0], device=x.device)
    for _ in range(scheduler.config.correct_steps):
        x = scheduler.step_correct(ctx.predict(x, sigma), x, generator=generator).prev_sample
    output = scheduler.step_pred(ctx.predict(x, sigma), t, x, generator=generator)
    ctx.state["sample_mean"] = output.prev_sample_mean
    return output.prev_sample


class ScoreSdeVePipeline(UnconditionalPipeline):
    """Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
    Equations", arXiv:2011.13456: the VE SDE sampled with Algorithm 2's reverse-diffusion
    predictor and Algorithm 5's Langevin corrector.

    Components: `unet` (UNet2DModel with Fourier time features, which outputs the score at
    noise level sigma), `scheduler` (ScoreSdeVeScheduler). Samples live in [0, 1].
    """

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        num_inference_steps: int = 2000,
        generator: Generator = None,
        output_type: str | None = "pil",
        return_dict: bool = True,
        *,
        callback_on_step_end: kernel.Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Sample `batch_size` images; `output_type`: ``"pil"``, ``"np"`` or ``"pt"``.

        The output is the last predictor step's mean (no final noise), clamped to [0, 1].
        """
        warn_ignored(self, kwargs)
        output_type = output_type_of(output_type)
        noise = self._initial_noise(batch_size, generator)
        # Continuous times stay on the CPU: the scheduler indexes its sigma grid with them.
        run = kernel.schedule(self.scheduler, num_inference_steps, None)
        run.scheduler.set_sigmas(num_inference_steps)
        state: kernel.State = {}
        self._denoise(
            run,
            noise * run.scheduler.init_noise_sigma,
            step=partial(predictor_corrector_step, generator),
            state=state,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        mean = state.get("sample_mean", state["latents"])
        return image_output(mean, output_type, return_dict, signed=False)
