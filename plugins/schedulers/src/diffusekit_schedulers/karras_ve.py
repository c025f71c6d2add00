"""The stochastic sampler of Karras et al. for variance-exploding models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from diffusekit.config import BaseConfig
from diffusekit.noise import randn_tensor
from diffusekit.outputs import BaseOutput
from diffusekit.scheduling import SchedulerMixin


class KarrasVeConfig(BaseConfig):
    """The reference's fields exactly (it has no num_train_timesteps)."""

    sigma_min: float = 0.02
    sigma_max: float = 100.0
    s_noise: float = 1.007
    s_churn: float = 80.0
    s_min: float = 0.05
    s_max: float = 50.0


@dataclass
class KarrasVeOutput(BaseOutput):
    prev_sample: torch.Tensor
    derivative: torch.Tensor
    pred_original_sample: torch.Tensor | None = None


class KarrasVeScheduler(SchedulerMixin):
    """Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", arXiv:2206.00364, Algorithm 2, for a network that outputs the score direction
    (x0 = x + sigma * output), driven step by step by a pipeline:

    1. `add_noise_to_input`: churn, gamma = min(S_churn / N, sqrt 2 - 1) for sigma in
       [S_min, S_max]; sigma_hat = (1 + gamma) sigma,
       x_hat = x + sqrt(sigma_hat^2 - sigma^2) S_noise z.
    2. `step`: Euler step from sigma_hat to sigma_prev.
    3. `step_correct`: Heun's correction with the derivative at sigma_prev (when sigma_prev > 0).

    `schedule[i]` is the reference's t_i = sigma_max^2 (sigma_min^2 / sigma_max^2)^(i / (N - 1)).
    """

    config_class = KarrasVeConfig
    compatibility_families: ClassVar[tuple[str, ...]] = ("karras-ve",)
    step_options: ClassVar[frozenset[str]] = frozenset()
    order = 2

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.init_noise_sigma = self.config.sigma_max
        self.num_inference_steps: int | None = None
        self.timesteps: torch.Tensor | None = None
        self.schedule: torch.Tensor | None = None

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        return sample

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        c = self.config
        n = self.num_inference_steps = num_inference_steps
        steps = torch.from_numpy(np.arange(0, n)[::-1].copy())
        self.timesteps = steps.to(device)
        ratio = c.sigma_min**2 / c.sigma_max**2
        self.schedule = (c.sigma_max**2 * ratio ** (steps / (n - 1))).to(torch.float32).to(device)

    def add_noise_to_input(
        self, sample: torch.Tensor, sigma: float, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, float]:
        c = self.config
        steps = self.num_inference_steps or 1
        gamma = min(c.s_churn / steps, 2**0.5 - 1) if c.s_min <= sigma <= c.s_max else 0
        eps = c.s_noise * randn_tensor(sample.shape, generator).to(sample.device)
        sigma_hat = sigma + gamma * sigma
        return sample + (sigma_hat**2 - sigma**2) ** 0.5 * eps, sigma_hat

    def step(
        self,
        model_output: torch.Tensor,
        sigma_hat: float,
        sigma_prev: float,
        sample_hat: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        x0 = sample_hat + sigma_hat * model_output
        derivative = (sample_hat - x0) / sigma_hat
        prev_sample = sample_hat + (sigma_prev - sigma_hat) * derivative
        if not return_dict:
            return prev_sample, derivative
        return KarrasVeOutput(
            prev_sample=prev_sample, derivative=derivative, pred_original_sample=x0
        )

    def step_correct(
        self,
        model_output: torch.Tensor,
        sigma_hat: float,
        sigma_prev: float,
        sample_hat: torch.Tensor,
        sample_prev: torch.Tensor,
        derivative: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        x0 = sample_prev + sigma_prev * model_output
        derivative_next = (sample_prev - x0) / sigma_prev
        prev_sample = sample_hat + (sigma_prev - sigma_hat) * (
            0.5 * derivative + 0.5 * derivative_next
        )
        if not return_dict:
            return prev_sample, derivative
        return KarrasVeOutput(
            prev_sample=prev_sample, derivative=derivative, pred_original_sample=x0
        )

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: Any) -> Any:
        raise NotImplementedError("KarrasVeScheduler has no forward process to add noise with")
