"""Euler sampler of the probability-flow ODE, with optional stochastic churn."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch

from diffusekit.noise import randn_like

from ._base import BetaConfig, SigmaScheduler, output
from ._f32 import f32
from ._prediction import PredictionType, denoised
from ._sigmas import (
    chosen_ramp,
    discrete_sigma_schedule,
    ramp_sigmas,
    sigma_to_t,
    sigmas_from_alphas_cumprod,
)
from ._spacing import TimestepSpacing, spaced_timesteps


class EulerDiscreteConfig(BetaConfig):
    prediction_type: PredictionType = "epsilon"
    interpolation_type: Literal["linear", "log_linear"] = "linear"
    use_karras_sigmas: bool | None = False
    use_exponential_sigmas: bool | None = False
    use_beta_sigmas: bool | None = False
    sigma_min: float | None = None
    sigma_max: float | None = None
    timestep_spacing: TimestepSpacing = "linspace"
    timestep_type: Literal["discrete", "continuous"] = "discrete"
    steps_offset: int = 0
    rescale_betas_zero_snr: bool = False
    final_sigmas_type: Literal["zero", "sigma_min"] = "zero"


class EulerDiscreteScheduler(SigmaScheduler):
    """Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models",
    arXiv:2206.00364, Algorithm 2 with Euler steps only (no Heun correction).

    With churn gamma_i = min(S_churn / N, sqrt(2) - 1) for sigma in [S_tmin, S_tmax]::

        sigma_hat = sigma_i (1 + gamma_i)
        x_hat     = x_i + sqrt(sigma_hat^2 - sigma_i^2) S_noise z
        d_i       = (x_hat - D(x_hat; sigma_hat)) / sigma_hat
        x_{i+1}   = x_hat + (sigma_{i+1} - sigma_hat) d_i
    """

    config_class = EulerDiscreteConfig
    clamp_terminal_alpha_bar = True
    step_options: ClassVar[frozenset[str]] = frozenset(
        {"s_churn", "s_tmin", "s_tmax", "s_noise", "generator"}
    )

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        chosen_ramp(self.config)
        n = self.config.num_train_timesteps
        train = sigmas_from_alphas_cumprod(self.alphas_cumprod)
        timesteps = np.linspace(0, n - 1, n, dtype=np.float32)[::-1].copy()
        self._set_schedule(
            self._timestep_values(timesteps, train[::-1]), np.append(train[::-1], 0.0), None
        )

    def _timestep_values(self, timesteps: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
        c = self.config
        if c.timestep_type == "continuous" and c.prediction_type == "v_prediction":
            return 0.25 * np.log(np.asarray(sigmas, dtype=np.float32)[: len(timesteps)])
        return np.asarray(timesteps, dtype=np.float32)

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        device: Any = None,
        timesteps: list[float] | None = None,
        sigmas: list[float] | None = None,
    ) -> None:
        c = self.config
        ramp = chosen_ramp(c)
        _check_custom(num_inference_steps, timesteps, sigmas, ramp)
        train = sigmas_from_alphas_cumprod(self.alphas_cumprod)
        if sigmas is not None:
            sigma_arr = np.asarray(sigmas, dtype=np.float32)
            steps = sigma_to_t(sigma_arr[:-1], np.log(train))
            self.num_inference_steps = len(sigma_arr) - 1
        else:
            n = num_inference_steps if timesteps is None else len(timesteps)
            self.num_inference_steps = n
            if timesteps is not None:
                steps = np.asarray(timesteps, dtype=np.float32)
            else:
                steps = spaced_timesteps(
                    c.timestep_spacing, n, c.num_train_timesteps, c.steps_offset, integer=False
                )
            if c.interpolation_type == "log_linear":
                sigma_arr = torch.linspace(np.log(train[-1]), np.log(train[0]), n + 1).exp().numpy()
                if ramp is not None:
                    sigma_arr = ramp_sigmas(ramp, sigma_arr, n, c.sigma_min, c.sigma_max)
                    steps = sigma_to_t(sigma_arr, np.log(train))
            else:
                steps, sigma_arr = discrete_sigma_schedule(
                    self.alphas_cumprod, steps, ramp, c.sigma_min, c.sigma_max
                )
            last = float(train[0]) if c.final_sigmas_type == "sigma_min" else 0.0
            sigma_arr = np.append(sigma_arr, last)
        self._set_schedule(self._timestep_values(steps, sigma_arr), sigma_arr, device)

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        s_churn: float = 0.0,
        s_tmin: float = 0.0,
        s_tmax: float = float("inf"),
        s_noise: float = 1.0,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> Any:
        i = self._current_index(timestep)
        sigma, sigma_next = self._sigma_values[i], self._sigma_values[i + 1]
        gamma = (
            min(s_churn / (len(self._sigma_values) - 1), 2**0.5 - 1)
            if s_tmin <= sigma <= s_tmax
            else 0.0
        )
        sigma_hat = float(f32(sigma) * f32(gamma + 1))
        x = sample.to(torch.float32)
        if gamma > 0:
            z = randn_like(model_output, generator) * s_noise
            x = x + z * (sigma_hat**2 - sigma**2) ** 0.5
        x0 = _euler_denoised(self.config.prediction_type, model_output, x, sigma, sigma_hat)
        derivative = (x - x0) / sigma_hat
        dt = float(f32(sigma_next) - f32(sigma_hat))
        prev_sample = (x + derivative * dt).to(model_output.dtype)
        self._step_index = i + 1
        return output(prev_sample, x0, return_dict)


def _euler_denoised(
    prediction_type: str,
    model_output: torch.Tensor,
    x: torch.Tensor,
    sigma: float,
    sigma_hat: float,
) -> torch.Tensor:
    """D(x; sigma): epsilon uses the churned sigma_hat; v-prediction the schedule's sigma."""
    if prediction_type == "epsilon":
        return denoised("epsilon", model_output, x, sigma_hat)
    return denoised(prediction_type, model_output, x, sigma)


def _check_custom(
    num_inference_steps: int | None,
    timesteps: list[float] | None,
    sigmas: list[float] | None,
    ramp: str | None,
) -> None:
    given = [
        name
        for name, v in (
            ("num_inference_steps", num_inference_steps),
            ("timesteps", timesteps),
            ("sigmas", sigmas),
        )
        if v is not None
    ]
    if len(given) != 1:
        raise ValueError(
            "set_timesteps: pass exactly one of num_inference_steps, timesteps, sigmas; "
            f"found {given or 'none'}"
        )
    if timesteps is not None and ramp is not None:
        raise ValueError(
            f"set_timesteps: custom timesteps cannot be combined with use_{ramp}_sigmas"
        )
