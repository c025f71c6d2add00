"""Singlestep DPM-Solver and DPM-Solver++: order-k steps whose intermediate points are the
schedule's own timesteps."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import field_validator, model_validator

from ._base import output
from ._multistep import (
    ExponentialIntegratorScheduler,
    LinearUpdate,
    MultistepConfig,
    apply_update,
    clipped_last_timestep,
    combine,
    dpm_taylor_weights,
    draw_noise,
    ramped_schedule,
    remap_foreign,
    solver_timesteps,
)
from ._sigmas import chosen_ramp, interpolate_sigmas
from .dpmsolver_multistep import DATA_PREDICTION, DPMSolverMultistepScheduler, check_final_sigma


class DPMSolverSinglestepConfig(MultistepConfig):
    algorithm_type: Literal["dpmsolver", "dpmsolver++", "sde-dpmsolver++"] = "dpmsolver++"
    solver_type: Literal["midpoint", "heun"] = "midpoint"
    lower_order_final: bool = False
    """Also forced on when the step count is not a multiple of solver_order or the final sigma
    is zero (per call; the config is left as written)."""
    final_sigmas_type: Literal["zero", "sigma_min"] = "zero"
    lambda_min_clipped: float = -math.inf
    variance_type: Literal["learned", "learned_range"] | None = None

    @field_validator("algorithm_type", mode="before")
    @classmethod
    def _from_deis(cls, value: Any) -> Any:
        return remap_foreign(value, ("deis",), "dpmsolver++")

    @field_validator("solver_type", mode="before")
    @classmethod
    def _from_other_solvers(cls, value: Any) -> Any:
        return remap_foreign(value, ("logrho", "bh1", "bh2"), "midpoint")

    @model_validator(mode="after")
    def _check_combination(self) -> DPMSolverSinglestepConfig:
        check_final_sigma(self.algorithm_type, self.final_sigmas_type)
        return self


def order_list(steps: int, order: int, lower_order_final: bool, final_zero: bool) -> list[int]:
    """Solver order of each step: cycles 1, 2, .., order, each cycle one singlestep update."""
    cycle = list(range(1, order + 1))
    full, rest = divmod(steps, order)
    if not lower_order_final:
        orders = cycle * full
    elif rest == 0:
        orders = cycle * (full - 1) + cycle[:-1] + [1]
    else:
        orders = cycle * full + cycle[:rest]
    if order == 1:
        orders = [1] * steps
    if final_zero and orders:
        orders[-1] = 1
    return orders


def singlestep_update(
    algorithm: str, solver_type: str, levels: tuple[Any, ...], i: int, order: int
) -> LinearUpdate | None:
    """The order-`order` update from entry i - order + 1 (the stored sample) to entry i + 1.

    Outputs m0 (entry i), m1 (i - 1), m2 (i - 2) are the intermediate evaluations. With
    h = lambda_t - lambda_start and r_j the intermediate points' fractions of h
    (DPM-Solver, Algorithms 4 and 5; DPM-Solver++ section 4)::

        order 2:  D0 = m1, D1 = (m0 - m1) / r0
        order 3:  D0 = m2, D1_0 = (m1 - m2) / r1, D1_1 = (m0 - m2) / r0,
                  D1 = (r0 D1_0 - r1 D1_1) / (r0 - r1), D2 = 2 (D1_1 - D1_0) / (r0 - r1)

    The third-order midpoint solver uses D1_1 alone (DPM-Solver-3), heun the Taylor D1, D2.
    """
    if i < order - 1:
        return None
    start = i - order + 1
    t = levels[i + 1]
    if t.lam == levels[start].lam:
        return LinearUpdate(1.0, ())
    a, w, noise = dpm_taylor_weights(algorithm, t, levels[start], order)
    if order == 1:
        return LinearUpdate(a, (w[0],), noise)
    h = t.lam - levels[start].lam
    if not math.isfinite(h):
        return None
    r0 = (levels[i].lam - levels[start].lam) / h
    if order == 2:
        d1 = [1 / r0, -1 / r0]
        w1 = w[0] / 2 if solver_type == "midpoint" else w[1]
        return LinearUpdate(a, tuple(combine([0.0, w[0]], d1, 1.0, w1)), noise)
    r1 = (levels[i - 1].lam - levels[start].lam) / h
    if r0 == r1 or 0 in (r0, r1):
        return None
    d0 = [0.0, 0.0, w[0]]
    d1_0 = [0.0, 1 / r1, -1 / r1]
    d1_1 = [1 / r0, 0.0, -1 / r0]
    if solver_type == "midpoint":
        return LinearUpdate(a, tuple(combine(d0, d1_1, 1.0, w[1])), noise)
    d1 = combine(d1_0, d1_1, r0 / (r0 - r1), -r1 / (r0 - r1))
    d2 = combine(d1_1, d1_0, 2 / (r0 - r1), -2 / (r0 - r1))
    return LinearUpdate(a, tuple(combine(combine(d0, d1, 1.0, w[1]), d2, 1.0, w[2])), noise)


class DPMSolverSinglestepScheduler(ExponentialIntegratorScheduler):
    """Singlestep DPM-Solver / DPM-Solver++.

    Lu et al. 2022, "DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic Model Sampling
    in Around 10 Steps", arXiv:2206.00927 (DPM-Solver-2 and -3, Algorithms 4 and 5); Lu et al.
    2022b, "DPM-Solver++", arXiv:2211.01095 (the data-prediction and SDE forms).

    Steps come in cycles of orders 1, 2, .., k: each cycle is one order-k singlestep solver
    from the cycle's first point, whose intermediate model evaluations are the schedule's own
    timesteps. Each `step` call still takes one model output and returns the sample at the
    next timestep (the cycle's partial update of the matching order). The order-3 sde
    weight differs from the reference's as in `DPMSolverMultistepScheduler`.
    """

    config_class = DPMSolverSinglestepConfig
    step_options: ClassVar[frozenset[str]] = frozenset({"generator"})
    order: ClassVar[int] = 1

    def _reset_call_state(self) -> None:
        super()._reset_call_state()
        self.sample: torch.Tensor | None = None

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        device: Any = None,
        mu: float | None = None,
        timesteps: list[int] | None = None,
    ) -> None:
        """Build the schedule from `num_inference_steps` or custom descending `timesteps`."""
        c = self.config
        ramp = chosen_ramp(c)
        if (num_inference_steps is None) == (timesteps is None):
            raise ValueError("set_timesteps: pass exactly one of num_inference_steps and timesteps")
        if mu is not None:
            raise ValueError("set_timesteps: mu (dynamic shifting) needs flow sigmas, unsupported")
        if timesteps is not None and ramp is not None:
            raise ValueError(
                f"set_timesteps: custom timesteps cannot be combined with use_{ramp}_sigmas"
            )
        train = self._train_sigmas()
        if timesteps is not None:
            steps = np.asarray(timesteps).astype(np.int64)
            sigmas = interpolate_sigmas(steps, train)
        elif ramp is not None:
            steps, sigmas = ramped_schedule(ramp, train, num_inference_steps, ramp == "karras")
        else:
            last = clipped_last_timestep(self.lambda_t, c.lambda_min_clipped, c.num_train_timesteps)
            steps = solver_timesteps("linspace", num_inference_steps, last, c.num_train_timesteps)
            sigmas = interpolate_sigmas(steps, train)
        final = self._sigma_min_of_training() if c.final_sigmas_type == "sigma_min" else 0.0
        self._store_schedule(steps, np.append(sigmas, final), device)

    def _precompute(self) -> None:
        c = self.config
        n = len(self.timesteps)
        final_zero = c.final_sigmas_type == "zero"
        lower = c.lower_order_final or n % c.solver_order != 0 or final_zero
        self.order_list = tuple(order_list(n, c.solver_order, lower, final_zero))
        self._updates = tuple(
            tuple(
                singlestep_update(c.algorithm_type, c.solver_type, self.levels, i, k)
                for k in range(1, c.solver_order + 1)
            )
            for i in range(n)
        )

    convert_model_output = DPMSolverMultistepScheduler.convert_model_output

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        return_dict: bool = True,
    ) -> Any:
        """Advance to the next timestep with this step's order in the cycle."""
        self._require_schedule()
        c = self.config
        i = self._current_index(timestep)
        converted = self.convert_model_output(model_output, sample, i)
        self._push_output(converted)
        order = self.order_list[i]
        while self.model_outputs[-order] is None:
            order -= 1
        if order == 1:
            self.sample = sample
        update = self._updates[i][order - 1]
        if update is None:
            raise ValueError(
                f"{type(self).__name__}.step: order {order} is undefined at step {i} "
                "(repeated noise levels in the schedule)"
            )
        noise = None
        if c.algorithm_type == "sde-dpmsolver++":
            noise = draw_noise(model_output, generator, model_output.dtype)
        prev_sample = apply_update(update, self.sample, self._history(order), noise)
        self._step_index = i + 1
        x0 = (
            converted
            if c.algorithm_type in DATA_PREDICTION
            else self._x0_from_noise(converted, sample, i)
        )
        return output(prev_sample.to(model_output.dtype), x0, return_dict)
