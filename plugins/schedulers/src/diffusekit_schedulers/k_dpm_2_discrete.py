"""KDPM2: the second-order DPM-Solver step on the k-diffusion sigma schedule."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ._base import KDiffusionConfig, output
from ._f32 import f32
from ._kdpm2 import KDPM2Base, geometric_midpoint
from ._prediction import denoised


class KDPM2DiscreteConfig(KDiffusionConfig):
    beta_start: float = 0.00085
    beta_end: float = 0.012


class KDPM2DiscreteScheduler(KDPM2Base):
    """DPM-Solver-2 (Lu et al. 2022, "DPM-Solver", arXiv:2206.00927, Algorithm 1 with r = 1/2)
    in the form of k-diffusion's `sample_dpm_2` (Crowson), on the sigma parameterisation of
    Karras et al. 2022::

        sigma_mid = exp((log sigma_i + log sigma_{i+1}) / 2)
        x_mid     = x_i + (sigma_mid - sigma_i) (x_i - D(x_i; sigma_i)) / sigma_i
        x_{i+1}   = x_i + (sigma_{i+1} - sigma_i) (x_mid - D(x_mid; sigma_mid)) / sigma_mid
    """

    config_class = KDPM2DiscreteConfig
    step_options: ClassVar[frozenset[str]] = frozenset()

    def _midpoints(self, sigmas: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (geometric_midpoint(sigmas, sigmas.roll(1)),)

    def _interleave_timesteps(self, steps: torch.Tensor, mid_steps: torch.Tensor) -> torch.Tensor:
        pairs = torch.stack((mid_steps[1:-1, None], steps[1:, None]), dim=-1).flatten()
        return torch.cat([steps[:1], pairs])

    def _input_divisor(self, index: int) -> float:
        return (
            self._input_divisors[index] if self.state_in_first_order else self._mid_divisors[index]
        )

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        if self.config.prediction_type == "sample":
            raise NotImplementedError(
                "KDPM2DiscreteScheduler: prediction_type 'sample' is not supported"
            )
        i = self._current_index(timestep)
        first = self.state_in_first_order
        if first:
            sigma, mid, sigma_next = (
                self._sigma_values[i],
                self._mid_values[i + 1],
                self._sigma_values[i + 1],
            )
        else:
            sigma, mid, sigma_next = (
                self._sigma_values[i - 1],
                self._mid_values[i],
                self._sigma_values[i],
            )
        sigma_eval = sigma if first else mid
        x0 = denoised(self.config.prediction_type, model_output, sample, sigma_eval)
        derivative = (sample - x0) / sigma_eval
        if first:
            dt = float(f32(mid) - f32(sigma))
            self.sample = sample
        else:
            dt = float(f32(sigma_next) - f32(sigma))
            sample, self.sample = self.sample, None
        self._step_index = i + 1
        return output(sample + derivative * dt, x0, return_dict)
