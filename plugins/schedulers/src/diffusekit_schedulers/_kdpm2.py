"""Schedule shared by the two KDPM2 samplers: sigmas, midpoint sigmas and their timesteps."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._base import SigmaScheduler
from ._sigmas import chosen_ramp, interleave_pairs, sigma_to_t, sigmas_from_alphas_cumprod


def geometric_midpoint(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """exp((log a + log b) / 2): the midpoint in log-sigma (0 if either end is 0)."""
    return a.log().lerp(b.log(), 0.5).exp()


class KDPM2Base(SigmaScheduler):
    """A second-order sampler that evaluates the network at sigma and at a midpoint sigma.

    `timesteps` alternates t_i and the midpoint's timestep; `sigmas` lists each inner sigma twice.
    """

    order = 2

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        chosen_ramp(self.config)
        self.set_timesteps(self.config.num_train_timesteps)

    def _midpoints(self, sigmas: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(midpoint sigmas, extra per-step tables); subclasses choose the midpoint's ends."""
        raise NotImplementedError

    def _interleave_timesteps(self, steps: torch.Tensor, mid_steps: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def set_timesteps(
        self, num_inference_steps: int, device: Any = None, num_train_timesteps: int | None = None
    ) -> None:
        self.num_inference_steps = num_inference_steps
        steps, sigmas = self._spaced_schedule(num_inference_steps, num_train_timesteps)
        if chosen_ramp(self.config) == "karras":
            steps = steps.round()
        sig = torch.from_numpy(np.append(sigmas, 0.0).astype(np.float32))
        mid, *extra = self._midpoints(sig)
        log_train = np.log(sigmas_from_alphas_cumprod(self.alphas_cumprod))
        ts = torch.from_numpy(np.asarray(steps))
        mid_ts = torch.from_numpy(sigma_to_t(mid.numpy(), log_train)).to(ts.dtype)
        self._set_schedule(
            self._interleave_timesteps(ts, mid_ts), interleave_pairs(sig, repeat_last=True), device
        )
        self.sigmas_interpol = interleave_pairs(mid, repeat_last=True)
        self._mid_values: list[float] = self.sigmas_interpol.tolist()
        self._mid_divisors: list[float] = ((self.sigmas_interpol**2 + 1) ** 0.5).tolist()
        self._extra_values = [interleave_pairs(e, repeat_last=True).tolist() for e in extra]
        self.sample: torch.Tensor | None = None

    @property
    def state_in_first_order(self) -> bool:
        return self.sample is None
