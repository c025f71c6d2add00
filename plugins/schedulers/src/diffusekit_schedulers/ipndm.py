"""iPNDM: the improved pseudo linear multistep sampler with lower-order warm-up."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from diffusekit.scheduling import SchedulerConfig, SchedulerMixin

from ._base import output
from ._betas import TrainedBetas
from .pndm import adams_bashforth


class IPNDMConfig(SchedulerConfig):
    trained_betas: TrainedBetas = None
    """Noise levels sigma_i to use instead of sin^2(pi/2 s) (one more than the steps)."""


class IPNDMScheduler(SchedulerMixin):
    """Zhang & Chen 2022, "Fast Sampling of Diffusion Models with Exponential Integrator"
    (DEIS), arXiv:2204.13902, section 5: improved PNDM, which replaces PNDM's pseudo
    Runge-Kutta warm-up with Adams-Bashforth steps of increasing order (1, 2, 3, then 4).

    On a continuous schedule s in (1, 0] with sigma_s = sin^2(pi s / 2) and
    alpha_s = sqrt(1 - sigma_s^2), the network output is turned into
    e = sigma x + alpha eps, combined over the last four steps, and used as::

        x0_hat  = (x - sigma_i e) / alpha_i
        x_{i+1} = alpha_{i+1} x0_hat + sigma_{i+1} e
    """

    config_class = IPNDMConfig
    compatibility_families: ClassVar[tuple[str, ...]] = ("ipndm",)
    step_options: ClassVar[frozenset[str]] = frozenset()
    init_noise_sigma = 1.0
    pndm_order = 4

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._begin_index: int | None = None
        self.set_timesteps(self.config.num_train_timesteps)

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        self.num_inference_steps = num_inference_steps
        s = torch.cat([torch.linspace(1, 0, num_inference_steps + 1)[:-1], torch.tensor([0.0])])
        trained = self.config.trained_betas
        if trained is not None:
            self.betas = torch.tensor(trained, dtype=torch.float32)
        else:
            self.betas = torch.sin(s * math.pi / 2) ** 2
        self.alphas = (1.0 - self.betas**2) ** 0.5
        self.timesteps = (torch.atan2(self.betas, self.alphas) / math.pi * 2)[:-1].to(device)
        self._sigma_values: list[float] = self.betas.tolist()
        self._alpha_values: list[float] = self.alphas.tolist()
        self.ets: list[torch.Tensor] = []
        self._step_index: int | None = None
        self._begin_index = None

    @property
    def step_index(self) -> int | None:
        return self._step_index

    @property
    def begin_index(self) -> int | None:
        return self._begin_index

    def set_begin_index(self, begin_index: int = 0) -> None:
        self._begin_index = begin_index

    def index_for_timestep(
        self, timestep: Any, schedule_timesteps: torch.Tensor | None = None
    ) -> int:
        schedule = self.timesteps if schedule_timesteps is None else schedule_timesteps
        if isinstance(timestep, torch.Tensor):
            timestep = timestep.to(schedule.device)
        hits = (schedule == timestep).nonzero()
        if len(hits) == 0:
            raise ValueError(f"timestep {timestep!r} is not in this scheduler's timesteps")
        return int(hits[1 if len(hits) > 1 else 0])

    def scale_model_input(self, sample: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return sample

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        if self._step_index is None:
            begin = self._begin_index
            self._step_index = self.index_for_timestep(timestep) if begin is None else begin
        i = self._step_index
        sigma, alpha = self._sigma_values[i], self._alpha_values[i]
        self.ets = [*self.ets, sample * sigma + model_output * alpha][-self.pndm_order :]
        e = adams_bashforth(self.ets)
        x0 = (sample - sigma * e) / max(alpha, 1e-8)
        prev_sample = self._alpha_values[i + 1] * x0 + e * self._sigma_values[i + 1]
        self._step_index = i + 1
        return output(prev_sample, None, return_dict)

    def __len__(self) -> int:
        return int(self.config.num_train_timesteps)
