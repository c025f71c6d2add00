"""KDPM2 ancestral: the DPM-Solver-2 step to sigma_down, then fresh noise up to sigma_next."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from diffusekit.noise import randn_like

from ._base import KDiffusionConfig, output
from ._f32 import f32
from ._kdpm2 import KDPM2Base, geometric_midpoint
from ._prediction import denoised
from .euler_ancestral_discrete import ancestral_split


class KDPM2AncestralDiscreteConfig(KDiffusionConfig):
    beta_start: float = 0.00085
    beta_end: float = 0.012


class KDPM2AncestralDiscreteScheduler(KDPM2Base):
    """Ancestral DPM-Solver-2 (Lu et al. 2022, arXiv:2206.00927) as in k-diffusion's
    `sample_dpm_2_ancestral` (Crowson): the deterministic second-order step targets
    sigma_down, and noise of std sigma_up restores the level sigma_{i+1}::

        sigma_mid = exp((log sigma_i + log sigma_down) / 2)
        x_mid     = x_i + (sigma_mid - sigma_i) d(x_i, sigma_i)
        x_{i+1}   = x_i + (sigma_down - sigma_i) d(x_mid, sigma_mid) + sigma_up z
    """

    config_class = KDPM2AncestralDiscreteConfig
    step_options: ClassVar[frozenset[str]] = frozenset({"generator"})

    def _midpoints(self, sigmas: torch.Tensor) -> tuple[torch.Tensor, ...]:
        following = sigmas.roll(-1)
        following[-1] = 0.0
        down, up = ancestral_split(sigmas, following)
        down[-1] = 0.0
        mid = geometric_midpoint(sigmas, down)
        mid[-2:] = 0.0
        return mid, up, down

    def _interleave_timesteps(self, steps: torch.Tensor, mid_steps: torch.Tensor) -> torch.Tensor:
        pairs = torch.stack((mid_steps[:-2, None], steps[1:, None]), dim=-1).flatten()
        return torch.cat([steps[:1], pairs])

    def _input_divisor(self, index: int) -> float:
        if self.state_in_first_order:
            return self._input_divisors[index]
        return self._mid_divisors[index - 1]

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
                "KDPM2AncestralDiscreteScheduler: prediction_type 'sample' is not supported"
            )
        i = self._current_index(timestep)
        first = self.state_in_first_order
        k = i if first else i - 1
        sigma, mid = self._sigma_values[k], self._mid_values[k]
        sigma_up, sigma_down = self._extra_values[0][k], self._extra_values[1][k]
        sigma_eval = sigma if first else mid
        x0 = denoised(self.config.prediction_type, model_output, sample, sigma_eval)
        derivative = (sample - x0) / sigma_eval
        if first:
            prev_sample = sample + derivative * float(f32(mid) - f32(sigma))
            self.sample = sample
        else:
            prev_sample = self.sample + derivative * float(f32(sigma_down) - f32(sigma))
            prev_sample = prev_sample + randn_like(model_output, generator) * sigma_up
            self.sample = None
        self._step_index = i + 1
        return output(prev_sample, x0, return_dict)
