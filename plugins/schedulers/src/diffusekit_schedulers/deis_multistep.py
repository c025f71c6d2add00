"""DEIS: diffusion exponential integrator sampler, multistep in log-rho."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from numpy.polynomial import polynomial as P
from pydantic import field_validator

from ._base import output
from ._multistep import (
    ExponentialIntegratorScheduler,
    Level,
    LinearUpdate,
    MultistepConfig,
    apply_update,
    ramped_schedule,
    remap_foreign,
    solver_timesteps,
)
from ._sigmas import chosen_ramp, interpolate_sigmas
from ._spacing import TimestepSpacing


class DEISMultistepConfig(MultistepConfig):
    algorithm_type: Literal["deis"] = "deis"
    solver_type: Literal["logrho"] = "logrho"
    """Lagrange interpolation of eps in log rho, rho = sigma_t / alpha_t."""
    timestep_spacing: TimestepSpacing = "linspace"
    steps_offset: int = 0

    @field_validator("algorithm_type", mode="before")
    @classmethod
    def _from_dpm(cls, value: Any) -> Any:
        return remap_foreign(value, ("dpmsolver", "dpmsolver++"), "deis")

    @field_validator("solver_type", mode="before")
    @classmethod
    def _from_other_solvers(cls, value: Any) -> Any:
        return remap_foreign(value, ("midpoint", "heun", "bh1", "bh2"), "logrho")


def _integral_exp_poly(coefficients: np.ndarray, upper: float) -> float:
    """int_0^upper p(v) e^v dv for p with ascending `coefficients`.

    Uses int v^n e^v dv = e^v sum_{m<=n} (-1)^(n-m) n!/m! v^m.
    """
    total = 0.0
    for n, c in enumerate(coefficients):
        at_upper = sum(
            (-1) ** (n - m) * math.factorial(n) / math.factorial(m) * upper**m for m in range(n + 1)
        )
        total += c * (math.exp(upper) * at_upper - (-1) ** n * math.factorial(n))
    return total


def deis_update(levels: tuple[Level, ...], i: int, order: int) -> LinearUpdate | None:
    """The order-`order` log-rho DEIS step from entry i to i + 1.

    Zhang & Chen 2022, eq. 14 with the exponential integrator in rho = sigma / alpha (the
    VP process is x / alpha = x_s / alpha_s + int_{rho_s}^{rho_t} eps(rho) drho) and eps
    interpolated by the Lagrange polynomial through the last `order` outputs in log rho::

        x_t = alpha_t (x_s / alpha_s + sum_j C_j eps_j),
        C_j = int_{rho_s}^{rho_t} prod_{k != j} (log rho - log rho_k) / (log rho_j - log rho_k) drho

    Integrated exactly with v = log(rho / rho_s), drho = rho_s e^v dv.
    """
    if i < order - 1:
        return None
    t, s0 = levels[i + 1], levels[i]
    rho = [levels[i - j].sigma / levels[i - j].alpha for j in range(order)]
    rho_t = t.sigma / t.alpha
    if rho_t == rho[0]:
        return LinearUpdate(1.0, ())
    nodes = [math.log(r / rho[0]) for r in rho]
    upper = math.log(rho_t / rho[0])
    weights = []
    for j in range(order):
        others = [nodes[k] for k in range(order) if k != j]
        denominator = math.prod(nodes[j] - v for v in others)
        if denominator == 0:
            return None
        lagrange = P.polyfromroots(others) / denominator if others else np.array([1.0])
        weights.append(t.alpha * rho[0] * _integral_exp_poly(lagrange, upper))
    return LinearUpdate(t.alpha / s0.alpha, tuple(weights))


class DEISMultistepScheduler(ExponentialIntegratorScheduler):
    """Multistep DEIS (the log-rho Adams-Bashforth variant).

    Zhang & Chen 2022, "Fast Sampling of Diffusion Models with Exponential Integrator",
    arXiv:2204.13902.

    The probability-flow ODE of the VP process is solved exactly in its linear part
    (x / alpha is an integral of eps over rho = sigma / alpha); the noise prediction under
    the integral is extrapolated from the previous steps by a polynomial in log rho
    (`deis_update`). The first order is DDIM.
    """

    config_class = DEISMultistepConfig
    step_options: ClassVar[frozenset[str]] = frozenset()
    order: ClassVar[int] = 1

    def set_timesteps(
        self, num_inference_steps: int, device: Any = None, mu: float | None = None
    ) -> None:
        """Build the schedule for `num_inference_steps` steps."""
        c = self.config
        if mu is not None:
            raise ValueError("set_timesteps: mu (dynamic shifting) needs flow sigmas, unsupported")
        ramp = chosen_ramp(c)
        train = self._train_sigmas()
        n_train = c.num_train_timesteps
        if ramp is not None:
            steps, values = ramped_schedule(ramp, train, num_inference_steps, ramp == "karras")
            final = float(np.float32(values[-1]))
        else:
            steps = solver_timesteps(
                c.timestep_spacing, num_inference_steps, n_train, n_train, c.steps_offset
            )
            values = interpolate_sigmas(steps, train)
            final = self._sigma_min_of_training()
        self._store_schedule(steps, np.append(values, final), device)

    def _precompute(self) -> None:
        n = len(self.timesteps)
        self._updates = tuple(
            tuple(deis_update(self.levels, i, k) for k in range(1, self.config.solver_order + 1))
            for i in range(n)
        )

    def _order_at(self, i: int) -> int:
        c = self.config
        n = len(self.timesteps)
        short = c.lower_order_final and n < 15
        if c.solver_order == 1 or self.lower_order_nums < 1 or (i == n - 1 and short):
            return 1
        if c.solver_order == 2 or self.lower_order_nums < 2 or (i == n - 2 and short):
            return 2
        return 3

    def convert_model_output(
        self, model_output: torch.Tensor, sample: torch.Tensor, index: int | None = None
    ) -> torch.Tensor:
        """eps of the (thresholded) x0 prediction at the current step."""
        i = self._step_index if index is None else index
        return self._eps_from_x0(self.data_prediction(model_output, sample, i), sample, i)

    def _eps_from_x0(self, x0: torch.Tensor, sample: torch.Tensor, i: int) -> torch.Tensor:
        lv = self.levels[i]
        return (sample - lv.alpha * x0) / lv.sigma

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        """Advance `sample` from the current schedule entry to the next."""
        self._require_schedule()
        c = self.config
        i = self._current_index(timestep)
        x0 = self.data_prediction(model_output, sample, i)
        self._push_output(self._eps_from_x0(x0, sample, i))
        order = self._order_at(i)
        update = self._updates[i][order - 1]
        if update is None:
            raise ValueError(
                f"DEISMultistepScheduler.step: order {order} is undefined at step {i} "
                "(repeated noise levels in the schedule)"
            )
        prev_sample = apply_update(update, sample, self._history(order))
        self.lower_order_nums = min(self.lower_order_nums + 1, c.solver_order)
        self._step_index = i + 1
        return output(prev_sample, x0, return_dict)
