"""Predictor-corrector sampling of the variance-exploding score SDE."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from diffusekit.noise import randn_like, randn_tensor
from diffusekit.outputs import BaseOutput
from diffusekit.scheduling import SchedulerConfig, SchedulerMixin

from ._base import output


class ScoreSdeVeConfig(SchedulerConfig):
    num_train_timesteps: int = 2000
    snr: float = 0.15
    """Signal-to-noise ratio r of the Langevin corrector (Algorithm 5)."""
    sigma_min: float = 0.01
    sigma_max: float = 1348.0
    sampling_eps: float = 1e-5
    """The last continuous time t; sampling runs from t = 1 down to it."""
    correct_steps: int = 1


@dataclass
class SdeVeOutput(BaseOutput):
    prev_sample: torch.Tensor
    prev_sample_mean: torch.Tensor


def _per_sample(values: torch.Tensor, ndim: int) -> torch.Tensor:
    values = values.flatten()
    return values.reshape(values.shape[0], *([1] * (ndim - 1)))


class ScoreSdeVeScheduler(SchedulerMixin):
    """Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
    Equations", arXiv:2011.13456, VE SDE with sigma(t) = sigma_min (sigma_max/sigma_min)^t.

    Predictor (reverse diffusion, Algorithm 2 / eq. 47), with s = score(x, sigma_i)::

        x_{i-1} = x_i + (sigma_i^2 - sigma_{i-1}^2) s + sqrt(sigma_i^2 - sigma_{i-1}^2) z

    Corrector (Langevin, Algorithm 5): eps = 2 (r ||z|| / ||s||)^2,
    x <- x + eps s + sqrt(2 eps) z. A pipeline calls `step_correct` `correct_steps` times,
    then `step_pred`, at each t of `timesteps` (using `sigmas` to condition the network).
    """

    config_class = ScoreSdeVeConfig
    compatibility_families: ClassVar[tuple[str, ...]] = ("score-sde-ve",)
    step_options: ClassVar[frozenset[str]] = frozenset({"generator"})

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.init_noise_sigma = self.config.sigma_max
        self.timesteps: torch.Tensor | None = None
        self.set_sigmas(self.config.num_train_timesteps)

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        return sample

    def set_timesteps(
        self, num_inference_steps: int, sampling_eps: float | None = None, device: Any = None
    ) -> None:
        """Continuous times from 1 down to `sampling_eps`."""
        eps = self.config.sampling_eps if sampling_eps is None else sampling_eps
        self.timesteps = torch.linspace(1, eps, num_inference_steps, device=device)

    def set_sigmas(
        self,
        num_inference_steps: int,
        sigma_min: float | None = None,
        sigma_max: float | None = None,
        sampling_eps: float | None = None,
    ) -> None:
        """sigma(t) at each of `timesteps`, and the geometric grid the predictor steps on."""
        c = self.config
        lo = c.sigma_min if sigma_min is None else sigma_min
        hi = c.sigma_max if sigma_max is None else sigma_max
        eps = c.sampling_eps if sampling_eps is None else sampling_eps
        if self.timesteps is None:
            self.set_timesteps(num_inference_steps, eps)
        self.discrete_sigmas = torch.exp(
            torch.linspace(math.log(lo), math.log(hi), num_inference_steps)
        )
        self.sigmas = torch.tensor([lo * (hi / lo) ** t for t in self.timesteps.cpu()])
        self._grid: list[float] = self.discrete_sigmas.tolist()

    def get_adjacent_sigma(self, timesteps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        previous = self.discrete_sigmas.to(timesteps.device)[(timesteps - 1).clamp(min=0)]
        return torch.where(timesteps == 0, torch.zeros_like(t.to(timesteps.device)), previous)

    def _require_timesteps(self, what: str) -> None:
        if self.timesteps is None:
            raise ValueError(f"ScoreSdeVeScheduler.{what}: call set_timesteps first")

    def step_pred(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> Any:
        """The reverse-diffusion predictor from continuous time `timestep` one grid step down."""
        self._require_timesteps("step_pred")
        assert self.timesteps is not None
        index = int(np.float32(timestep) * np.float32(len(self.timesteps) - 1))
        sigma = self._grid[index]
        below = self._grid[index - 1] if index > 0 else 0.0
        g = np.sqrt(np.float32(sigma) ** 2 - np.float32(below) ** 2)
        z = randn_tensor(sample.shape, generator, sample.device, sample.dtype, sample.layout)
        mean = sample + float(g * g) * model_output
        prev_sample = mean + float(g) * z
        if not return_dict:
            return prev_sample, mean
        return SdeVeOutput(prev_sample=prev_sample, prev_sample_mean=mean)

    def step_correct(
        self,
        model_output: torch.Tensor,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> Any:
        """One Langevin corrector step with step size set by the target `snr`."""
        self._require_timesteps("step_correct")
        z = randn_tensor(sample.shape, generator, None, None, sample.layout).to(sample.device)
        grad_norm = torch.norm(model_output.reshape(model_output.shape[0], -1), dim=-1).mean()
        noise_norm = torch.norm(z.reshape(z.shape[0], -1), dim=-1).mean()
        step_size = (self.config.snr * noise_norm / grad_norm) ** 2 * 2
        step_size = _per_sample(
            step_size * torch.ones(sample.shape[0], device=sample.device), sample.ndim
        )
        mean = sample + step_size * model_output
        return output(mean + ((step_size * 2) ** 0.5) * z, None, return_dict)

    def add_noise(
        self, original_samples: torch.Tensor, noise: torch.Tensor | None, timesteps: torch.Tensor
    ) -> torch.Tensor:
        sigmas = self.discrete_sigmas.to(original_samples.device)[
            timesteps.to(original_samples.device)
        ]
        sigmas = _per_sample(sigmas, original_samples.ndim)
        if noise is None:
            noise = randn_like(original_samples)
        return original_samples + noise * sigmas

    def __len__(self) -> int:
        return int(self.config.num_train_timesteps)
