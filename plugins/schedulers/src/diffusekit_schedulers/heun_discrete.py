"""Heun's second-order sampler of the probability-flow ODE."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch

from ._base import KDiffusionConfig, SigmaScheduler, output
from ._f32 import f32
from ._prediction import denoised
from ._sigmas import chosen_ramp, interleave_pairs


class HeunDiscreteConfig(KDiffusionConfig):
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2", "exp"] = "linear"
    clip_sample: bool = False
    clip_sample_range: float = 1.0


class HeunDiscreteScheduler(SigmaScheduler):
    """Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models",
    arXiv:2206.00364, Algorithm 1 (deterministic, S_churn = 0)::

        d_i      = (x_i - D(x_i; sigma_i)) / sigma_i
        x'       = x_i + (sigma_{i+1} - sigma_i) d_i                       (Euler)
        d'       = (x' - D(x'; sigma_{i+1})) / sigma_{i+1}
        x_{i+1}  = x_i + (sigma_{i+1} - sigma_i) (d_i + d') / 2            (trapezoid)

    The network is called twice per step, so `timesteps` lists each inner timestep twice and
    `step` alternates between the Euler predictor and the correction. The last step, to
    sigma = 0, is a plain Euler step.
    """

    config_class = HeunDiscreteConfig
    step_options: ClassVar[frozenset[str]] = frozenset()
    order = 2

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        chosen_ramp(self.config)
        self.set_timesteps(self.config.num_train_timesteps)

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        device: Any = None,
        num_train_timesteps: int | None = None,
        timesteps: list[float] | None = None,
    ) -> None:
        if (num_inference_steps is None) == (timesteps is None):
            raise ValueError("set_timesteps: pass exactly one of num_inference_steps and timesteps")
        n = num_inference_steps or len(timesteps or ())
        self.num_inference_steps = n
        steps, sigmas = self._spaced_schedule(n, num_train_timesteps, timesteps)
        sig = torch.from_numpy(np.append(sigmas, 0.0).astype(np.float32))
        ts = torch.from_numpy(np.asarray(steps))
        ts = torch.cat([ts[:1], ts[1:].repeat_interleave(2)]).to(torch.float32)
        self._set_schedule(ts, interleave_pairs(sig), device)
        self.prev_derivative: torch.Tensor | None = None
        self.dt: float | None = None
        self.sample: torch.Tensor | None = None

    @property
    def state_in_first_order(self) -> bool:
        return self.dt is None

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        i = self._current_index(timestep)
        first = self.state_in_first_order
        sigma, sigma_next = self._sigma_values[i - (0 if first else 1) : i + (2 if first else 1)]
        sigma_eval = sigma if first else sigma_next
        x0 = denoised(self.config.prediction_type, model_output, sample, sigma_eval)
        if self.config.clip_sample:
            limit = self.config.clip_sample_range
            x0 = x0.clamp(-limit, limit)
        derivative = (sample - x0) / sigma_eval
        if first:
            dt = float(f32(sigma_next) - f32(sigma))
            self.prev_derivative, self.dt, self.sample = derivative, dt, sample
        else:
            derivative = (self.prev_derivative + derivative) / 2
            dt, sample = self.dt, self.sample
            self.prev_derivative, self.dt, self.sample = None, None, None
        self._step_index = i + 1
        return output(sample + derivative * dt, x0, return_dict)
