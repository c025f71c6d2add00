"""DDPM: ancestral sampling of the denoising diffusion probabilistic model."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from diffusekit.noise import randn_like

from ._base import BetaConfig, BetaScheduler, output, timestep_int
from ._prediction import PredictionType, x0_and_eps
from ._spacing import TimestepSpacing, check_num_inference_steps, spaced_timesteps
from ._thresholding import clip_or_threshold

VarianceType = Literal[
    "fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned", "learned_range"
]


class DDPMConfig(BetaConfig):
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", "laplace"] = (
        "linear"
    )
    variance_type: VarianceType = "fixed_small"
    """fixed_small: the posterior variance beta~_t (eq. 7); fixed_large: beta_t; learned*:
    the network predicts it in extra output channels (Improved DDPM, eq. 15)."""
    clip_sample: bool = True
    prediction_type: PredictionType = "epsilon"
    thresholding: bool = False
    dynamic_thresholding_ratio: float = 0.995
    clip_sample_range: float = 1.0
    sample_max_value: float = 1.0
    timestep_spacing: TimestepSpacing = "leading"
    steps_offset: int = 0
    rescale_betas_zero_snr: bool = False


class DDPMScheduler(BetaScheduler):
    """Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models", arXiv:2006.11239.

    One step of the reverse process samples the posterior q(x_{t'} | x_t, x0_hat) (eqs. 6-7),
    t' the previous timestep of the schedule, a = alpha_bar, beta = 1 - a_t / a_t'::

        mu      = sqrt(a_t') beta / (1 - a_t) x0_hat + sqrt(1 - beta) (1 - a_t') / (1 - a_t) x_t
        beta~   = (1 - a_t') / (1 - a_t) beta
        x_t'    = mu + sigma_t z         (no noise at t = 0)

    Learned variances follow Nichol & Dhariwal 2021, "Improved Denoising Diffusion
    Probabilistic Models", eq. 15.
    """

    config_class = DDPMConfig
    step_options: ClassVar[frozenset[str]] = frozenset({"generator"})
    init_noise_sigma = 1.0

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        t = self.config.num_train_timesteps
        self.timesteps = torch.from_numpy(np.arange(0, t)[::-1].copy())
        self.custom_timesteps = False
        self._previous: dict[int, int] = {}
        self._tabulate(list(range(t)), list(range(-1, t - 1)))

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        device: Any = None,
        timesteps: list[int] | None = None,
    ) -> None:
        c = self.config
        if (num_inference_steps is None) == (timesteps is None):
            raise ValueError("set_timesteps: pass exactly one of num_inference_steps and timesteps")
        if timesteps is not None:
            steps = np.array(timesteps, dtype=np.int64)
            if np.any(steps[1:] >= steps[:-1]):
                raise ValueError(f"set_timesteps: timesteps must be descending, found {timesteps}")
            if steps[0] >= c.num_train_timesteps:
                raise ValueError(
                    f"set_timesteps: timesteps must be below num_train_timesteps="
                    f"{c.num_train_timesteps}, found {int(steps[0])}"
                )
            self.custom_timesteps = True
        else:
            check_num_inference_steps(num_inference_steps, c.num_train_timesteps)
            self.num_inference_steps = num_inference_steps
            self.custom_timesteps = False
            steps = spaced_timesteps(
                c.timestep_spacing,
                num_inference_steps,
                c.num_train_timesteps,
                c.steps_offset,
                integer=True,
            )
        listed = steps.tolist()
        self._previous = dict(zip(listed, [*listed[1:], -1]))
        self._tabulate(listed, [*listed[1:], -1])
        self.timesteps = torch.from_numpy(steps).to(device)

    def previous_timestep(self, timestep: Any) -> int:
        t = timestep_int(timestep)
        return self._previous[t] if self._previous else t - 1

    def _tabulate(self, steps: list[int], previous: list[int]) -> None:
        """Per-timestep posterior coefficients, in float32 as the schedule (eqs. 6-7)."""
        ac = self.alphas_cumprod
        a_t = ac[steps]
        prev = torch.tensor(previous)
        a_prev = torch.where(prev >= 0, ac[prev.clamp(min=0)], torch.ones(()))
        alpha = a_t / a_prev
        beta = 1 - alpha
        x0_coef = a_prev**0.5 * beta / (1 - a_t)
        xt_coef = alpha**0.5 * (1 - a_prev) / (1 - a_t)
        posterior = torch.clamp((1 - a_prev) / (1 - a_t) * beta, min=1e-20)
        columns = (x0_coef, xt_coef, posterior, beta)
        rows = zip(*(c.tolist() for c in columns))
        self._coefficients: dict[int, tuple[float, ...]] = dict(zip(steps, rows))

    def _noise_scale(self, t: int, predicted: torch.Tensor | None) -> Any:
        """Standard deviation of the noise added at timestep t."""
        _, _, posterior, beta = self._coefficients[t]
        kind = self.config.variance_type
        if kind in ("fixed_small", "fixed_small_log"):
            return posterior**0.5
        if kind in ("fixed_large", "fixed_large_log"):
            return beta**0.5
        if kind == "learned":
            return predicted**0.5
        frac = (predicted + 1) / 2
        return torch.exp(0.5 * (frac * math.log(beta) + (1 - frac) * math.log(posterior)))

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> Any:
        t = timestep_int(timestep)
        predicted = None
        learned = self.config.variance_type in ("learned", "learned_range")
        if learned and model_output.shape[1] == sample.shape[1] * 2:
            model_output, predicted = torch.split(model_output, sample.shape[1], dim=1)
        x0, _ = x0_and_eps(self.config.prediction_type, model_output, sample, *self.vp_scales(t))
        x0 = clip_or_threshold(x0, self.config)
        x0_coef, xt_coef, _, _ = self._coefficients[t]
        mean = x0_coef * x0 + xt_coef * sample
        if t > 0:
            mean = mean + self._noise_scale(t, predicted) * randn_like(model_output, generator)
        return output(mean, x0, return_dict)
