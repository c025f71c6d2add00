"""ScoreSdeVpPipeline: Euler-Maruyama sampling of the variance-preserving score SDE."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from diffusekit import kernel

from ._base import UnconditionalPipeline
from ._noise import Generator
from ._output import image_output, output_type_of

TIME_LABEL_SCALE = 999.0
"""The network sees t * 999, as in Song et al.'s released code: DDPM's step labels 0..999."""


def euler_maruyama_step(
    generator: Generator, ctx: kernel.StepContext, index: int, t: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """One Euler-Maruyama step of the reverse-time VP SDE from continuous time `t`.

    The network predicts the noise eps at label 999 t; the scheduler turns it into the score
    -eps / std(t) and steps ``dt = -1/N``. The step's noise-free mean is kept in
    ``state["sample_mean"]``: the output after the last step (Song et al.'s noise removal).
    """
    times = t * torch.ones(x.shape[0], device=x.device, dtype=x.dtype)
    eps = ctx.predict(x, times * TIME_LABEL_SCALE)
    x, mean = ctx.scheduler.step_pred(eps, x, times, generator=generator)
    ctx.state["sample_mean"] = mean
    return x


class ScoreSdeVpPipeline(UnconditionalPipeline):
    """Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
    Equations", arXiv:2011.13456: the VP SDE (eq. 11),
    ``dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw``, sampled backwards from t = 1 to
    `sampling_eps` by Euler-Maruyama on the reverse-time SDE (eq. 6),
    ``dx = [-beta(t) x / 2 - beta(t) score(x, t)] dt + sqrt(beta(t)) dw_bar``.

    With N steps and dt = -1/N, each step is
    ``x <- x + (beta x / 2 + beta score) / N + sqrt(beta / N) z``, z ~ N(0, I), where the
    score comes from the UNet's noise prediction as ``-eps / std(t)`` (std(t) of eq. 29).
    The reference library dropped this pipeline; this one follows the paper.

    Components: `unet` (UNet2DModel predicting noise, e.g. a DDPM checkpoint's),
    `scheduler` (ScoreSdeVpScheduler). Samples live in [-1, 1] and are mapped to [0, 1].
    """

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        num_inference_steps: int = 1000,
        generator: Generator = None,
        output_type: str | None = "pil",
        return_dict: bool = True,
        *,
        callback_on_step_end: kernel.Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> Any:
        """Sample `batch_size` images; `output_type`: ``"pil"``, ``"np"`` or ``"pt"``."""
        output_type = output_type_of(output_type)
        noise = self._initial_noise(batch_size, generator)
        run = kernel.schedule(self.scheduler, num_inference_steps, self._execution_device)
        state: kernel.State = {}
        self._denoise(
            run,
            noise * run.scheduler.init_noise_sigma,
            step=partial(euler_maruyama_step, generator),
            state=state,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        return image_output(state.get("sample_mean", state["latents"]), output_type, return_dict)
