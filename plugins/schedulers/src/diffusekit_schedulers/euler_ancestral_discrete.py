"""Euler ancestral sampler: an Euler step down to sigma_down, then fresh noise up to sigma_next."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from diffusekit.noise import randn_like

from ._base import BetaConfig, SigmaScheduler, output
from ._f32 import f32
from ._prediction import PredictionType, denoised
from ._sigmas import discrete_sigma_schedule, sigmas_from_alphas_cumprod
from ._spacing import TimestepSpacing, spaced_timesteps


class EulerAncestralDiscreteConfig(BetaConfig):
    prediction_type: PredictionType = "epsilon"
    timestep_spacing: TimestepSpacing = "linspace"
    steps_offset: int = 0
    rescale_betas_zero_snr: bool = False


def ancestral_split(sigma_from: Any, sigma_to: Any) -> tuple[Any, Any]:
    """(sigma_down, sigma_up) with sigma_down^2 + sigma_up^2 = sigma_to^2 and the step's
    noise variance matching the ancestral (DDPM) sampler at eta = 1."""
    sigma_up = (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5
    sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
    return sigma_down, sigma_up


class EulerAncestralDiscreteScheduler(SigmaScheduler):
    """Ancestral Euler sampling from k-diffusion (Crowson, `sample_euler_ancestral`), on the
    VE form of Karras et al. 2022, arXiv:2206.00364, with the ancestral noise split of
    Ho et al. 2020 (eta = 1 in Song et al. 2021's DDIM, eq. 16)::

        sigma_up   = sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2)
        sigma_down = sqrt(sigma_next^2 - sigma_up^2)
        x_next     = x + (sigma_down - sigma) (x - D(x; sigma)) / sigma + sigma_up z
    """

    config_class = EulerAncestralDiscreteConfig
    step_options: ClassVar[frozenset[str]] = frozenset({"generator"})
    clamp_terminal_alpha_bar = True

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        n = self.config.num_train_timesteps
        train = sigmas_from_alphas_cumprod(self.alphas_cumprod)
        timesteps = torch.from_numpy(np.linspace(0, n - 1, n)[::-1].copy())
        self._store(timesteps, np.append(train[::-1], 0.0), None)

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        c = self.config
        self.num_inference_steps = num_inference_steps
        steps = spaced_timesteps(
            c.timestep_spacing,
            num_inference_steps,
            c.num_train_timesteps,
            c.steps_offset,
            integer=False,
        )
        steps, sigmas = discrete_sigma_schedule(self.alphas_cumprod, steps)
        self._store(steps, np.append(sigmas, 0.0), device)

    def _store(self, timesteps: Any, sigmas: np.ndarray, device: Any) -> None:
        self._set_schedule(timesteps, sigmas, device)
        sig = self.sigmas.cpu()
        down, up = ancestral_split(sig[:-1], sig[1:])
        self._down_up: list[tuple[float, float]] = list(zip(down.tolist(), up.tolist()))

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> Any:
        if self.config.prediction_type == "sample":
            raise NotImplementedError(
                "EulerAncestralDiscreteScheduler: prediction_type 'sample' is not supported"
            )
        i = self._current_index(timestep)
        sigma = self._sigma_values[i]
        sigma_down, sigma_up = self._down_up[i]
        x = sample.to(torch.float32)
        x0 = denoised(self.config.prediction_type, model_output, x, sigma)
        derivative = (x - x0) / sigma
        prev_sample = x + derivative * float(f32(sigma_down) - f32(sigma))
        prev_sample = prev_sample + randn_like(model_output, generator) * sigma_up
        self._step_index = i + 1
        return output(prev_sample.to(model_output.dtype), x0, return_dict)
