"""DDIM: denoising diffusion implicit models."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from diffusekit.noise import randn_like

from ._base import BetaConfig, BetaScheduler, output, timestep_int
from ._prediction import PredictionType, eps_from_x0, x0_and_eps
from ._spacing import TimestepSpacing, check_num_inference_steps, spaced_timesteps
from ._thresholding import clip_or_threshold


class DDIMConfig(BetaConfig):
    clip_sample: bool = True
    set_alpha_to_one: bool = True
    """Use alpha_bar = 1 after the last step (else alpha_bar_0 of the training schedule)."""
    steps_offset: int = 0
    prediction_type: PredictionType = "epsilon"
    thresholding: bool = False
    dynamic_thresholding_ratio: float = 0.995
    clip_sample_range: float = 1.0
    sample_max_value: float = 1.0
    timestep_spacing: TimestepSpacing = "leading"
    rescale_betas_zero_snr: bool = False


class DDIMScheduler(BetaScheduler):
    """Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", arXiv:2010.02502.

    Eq. 12, with a = alpha_bar (the paper's alpha), t -> t-1 the previous inference timestep::

        x0_hat      = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)
        sigma_t     = eta * sqrt((1 - a_prev) / (1 - a_t)) * sqrt(1 - a_t / a_prev)   (eq. 16)
        x_{t-1}     = sqrt(a_prev) x0_hat + sqrt(1 - a_prev - sigma_t^2) eps + sigma_t z

    eta = 0 is the deterministic DDIM sampler, eta = 1 is DDPM's ancestral sampler.
    """

    config_class = DDIMConfig
    step_options: ClassVar[frozenset[str]] = frozenset(
        {"eta", "use_clipped_model_output", "generator", "variance_noise"}
    )
    init_noise_sigma = 1.0

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.final_alpha_cumprod = 1.0 if self.config.set_alpha_to_one else self._alpha_bars[0]
        t = self.config.num_train_timesteps
        self.timesteps = torch.from_numpy(np.arange(0, t)[::-1].copy().astype(np.int64))

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        c = self.config
        check_num_inference_steps(num_inference_steps, c.num_train_timesteps)
        self.num_inference_steps = num_inference_steps
        steps = spaced_timesteps(
            c.timestep_spacing,
            num_inference_steps,
            c.num_train_timesteps,
            c.steps_offset,
            integer=True,
        )
        self.timesteps = torch.from_numpy(steps).to(device)

    def _previous(self, timestep: Any) -> tuple[int, int]:
        if self.num_inference_steps is None:
            raise ValueError("DDIMScheduler.step: call set_timesteps(num_inference_steps) first")
        t = timestep_int(timestep)
        return t, t - self.config.num_train_timesteps // self.num_inference_steps

    def _prev_scales(self, prev: int) -> tuple[float, float]:
        """(alpha_bar, sqrt(alpha_bar)) at the previous timestep, or the final alpha_bar."""
        if prev >= 0:
            return self._alpha_bars[prev], self._sqrt_alpha_bars[prev]
        a = self.final_alpha_cumprod
        return a, a**0.5

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        eta: float = 0.0,
        use_clipped_model_output: bool = False,
        generator: torch.Generator | None = None,
        variance_noise: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> Any:
        t, prev = self._previous(timestep)
        a_t = self._alpha_bars[t]
        sqrt_a, sqrt_1ma = self.vp_scales(t)
        a_prev, sqrt_a_prev = self._prev_scales(prev)
        x0, eps = x0_and_eps(self.config.prediction_type, model_output, sample, sqrt_a, sqrt_1ma)
        x0 = clip_or_threshold(x0, self.config)
        variance = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
        sigma = eta * variance**0.5
        if use_clipped_model_output:
            eps = eps_from_x0(x0, sample, sqrt_a, sqrt_1ma)
        direction = 1 - a_prev - sigma**2
        if direction < 0:
            raise ValueError(
                f"DDIMScheduler.step: eta={eta} asks for more noise at timestep {t} than the "
                f"schedule leaves (sigma^2 = {sigma**2:.4g} > 1 - alpha_bar_prev = "
                f"{1 - a_prev:.4g}); use eta in [0, 1]"
            )
        prev_sample = sqrt_a_prev * x0 + direction**0.5 * eps
        if eta > 0:
            if variance_noise is not None and generator is not None:
                raise ValueError(
                    "DDIMScheduler.step: pass either generator or variance_noise, not both"
                )
            if variance_noise is None:
                variance_noise = randn_like(model_output, generator)
            prev_sample = prev_sample + sigma * variance_noise
        return output(prev_sample, x0, return_dict)
