"""Euler-Maruyama sampling of the variance-preserving score SDE."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from diffusekit.noise import randn_tensor
from diffusekit.scheduling import SchedulerConfig, SchedulerMixin


class ScoreSdeVpConfig(SchedulerConfig):
    num_train_timesteps: int = 2000
    beta_min: float = 0.1
    beta_max: float = 20.0
    sampling_eps: float = 1e-3


def _per_sample(values: torch.Tensor, ndim: int) -> torch.Tensor:
    values = values.flatten()
    return values.reshape(values.shape[0], *([1] * (ndim - 1)))


class ScoreSdeVpScheduler(SchedulerMixin):
    """Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
    Equations", arXiv:2011.13456, VP SDE (eq. 11) with beta(t) = beta_min + t (beta_max - beta_min).

    The network predicts eps; the score is -eps / std(t) with
    std(t) = sqrt(1 - exp(-t^2 (beta_max - beta_min) / 2 - t beta_min)) (eq. 29).
    One Euler-Maruyama step of the reverse SDE with dt = -1/N::

        f = -beta(t) x / 2,  g = sqrt(beta(t))
        x_mean = x + (f - g^2 score) dt,   x = x_mean + g sqrt(-dt) z

    `step_pred(score, x, t, generator)` returns `(x, x_mean)`.
    """

    config_class = ScoreSdeVpConfig
    compatibility_families: ClassVar[tuple[str, ...]] = ("score-sde-vp",)
    step_options: ClassVar[frozenset[str]] = frozenset({"generator"})
    init_noise_sigma = 1.0

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.sigmas = None
        self.discrete_sigmas = None
        self.timesteps: torch.Tensor | None = None

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        return sample

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        self.timesteps = torch.linspace(
            1, self.config.sampling_eps, num_inference_steps, device=device
        )

    def step_pred(
        self, score: torch.Tensor, x: torch.Tensor, t: Any, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.timesteps is None:
            raise ValueError("ScoreSdeVpScheduler.step_pred: call set_timesteps first")
        c = self.config
        t = torch.as_tensor(t)
        log_mean = -0.25 * t**2 * (c.beta_max - c.beta_min) - 0.5 * t * c.beta_min
        std = _per_sample(torch.sqrt(1.0 - torch.exp(2.0 * log_mean)), score.ndim)
        score = -score / std
        dt = -1.0 / len(self.timesteps)
        beta = _per_sample(c.beta_min + t * (c.beta_max - c.beta_min), x.ndim)
        g = torch.sqrt(beta)
        drift = -0.5 * beta * x - g**2 * score
        x_mean = x + drift * dt
        z = randn_tensor(x.shape, generator, x.device, x.dtype, x.layout)
        return x_mean + g * math.sqrt(-dt) * z, x_mean

    def __len__(self) -> int:
        return int(self.config.num_train_timesteps)
