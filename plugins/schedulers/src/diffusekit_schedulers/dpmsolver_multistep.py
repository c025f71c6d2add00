"""Multistep DPM-Solver and DPM-Solver++ (ODE and SDE variants)."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import field_validator, model_validator

from ._base import output
from ._multistep import (
    DpmAlgorithm,
    ExponentialIntegratorScheduler,
    LinearUpdate,
    MultistepConfig,
    apply_update,
    clipped_last_timestep,
    combine,
    dpm_taylor_weights,
    draw_noise,
    lu_lambda_schedule,
    ramped_schedule,
    remap_foreign,
    solver_timesteps,
)
from ._sigmas import chosen_ramp, interpolate_sigmas
from ._spacing import TimestepSpacing

DATA_PREDICTION = ("dpmsolver++", "sde-dpmsolver++")
SDE = ("sde-dpmsolver", "sde-dpmsolver++")


class DPMSolverMultistepConfig(MultistepConfig):
    algorithm_type: DpmAlgorithm = "dpmsolver++"
    """dpmsolver integrates the noise prediction (Lu et al. 2022), dpmsolver++ the data
    prediction (Lu et al. 2022b); the sde- variants solve the reverse SDE instead of the ODE."""
    solver_type: Literal["midpoint", "heun"] = "midpoint"
    """How the second-order step weighs the first difference D1 (ignored at order 3)."""
    euler_at_final: bool = False
    use_lu_lambdas: bool = False
    """Steps evenly spaced in lambda (DPM-Solver's uniform logSNR schedule)."""
    final_sigmas_type: Literal["zero", "sigma_min"] = "zero"
    lambda_min_clipped: float = -math.inf
    variance_type: Literal["learned", "learned_range"] | None = None
    timestep_spacing: TimestepSpacing = "linspace"
    steps_offset: int = 0
    rescale_betas_zero_snr: bool = False

    @field_validator("algorithm_type", mode="before")
    @classmethod
    def _from_deis(cls, value: Any) -> Any:
        return remap_foreign(value, ("deis",), "dpmsolver++")

    @field_validator("solver_type", mode="before")
    @classmethod
    def _from_other_solvers(cls, value: Any) -> Any:
        return remap_foreign(value, ("logrho", "bh1", "bh2"), "midpoint")

    @model_validator(mode="after")
    def _check_combination(self) -> DPMSolverMultistepConfig:
        check_final_sigma(self.algorithm_type, self.final_sigmas_type)
        if self.algorithm_type == "sde-dpmsolver" and self.solver_order == 3:
            raise ValueError("algorithm_type 'sde-dpmsolver' supports solver_order 1 or 2, found 3")
        return self


def check_final_sigma(algorithm_type: str, final_sigmas_type: str) -> None:
    """A noise-prediction solver cannot step to sigma = 0 (lambda would be infinite)."""
    if algorithm_type not in DATA_PREDICTION and final_sigmas_type == "zero":
        raise ValueError(
            f"final_sigmas_type 'zero' needs a data-prediction algorithm_type "
            f"({' or '.join(DATA_PREDICTION)}), found {algorithm_type!r}; use 'sigma_min'"
        )


def multistep_updates(
    algorithm: str, solver_type: str, levels: tuple[Any, ...], i: int, order: int
) -> LinearUpdate | None:
    """The order-`order` multistep update from schedule entry i to i + 1 (None if undefined).

    With s_0 = i, s_1 = i - 1, s_2 = i - 2 and h_j = lambda_{s_j} - lambda_{s_{j+1}},
    r_j = h_j / h, the outputs' differences estimate the derivatives (DPM-Solver++ Alg. 2;
    DPM-Solver's multistep third order)::

        D1_0 = (m0 - m1) / r0          D1_1 = (m1 - m2) / r1
        D1   = D1_0 + r0 / (r0 + r1) (D1_0 - D1_1)       D2 = (D1_0 - D1_1) / (r0 + r1)

    At order 2, D1 = D1_0; the midpoint solver weighs it with w_0 / 2, heun with w_1.
    """
    if i < order - 1:
        return None
    t, s0 = levels[i + 1], levels[i]
    h = t.lam - s0.lam
    if h == 0:
        return LinearUpdate(1.0, ())
    a, w, noise = dpm_taylor_weights(algorithm, t, s0, order)
    if order == 1:
        return LinearUpdate(a, (w[0],), noise)
    if not math.isfinite(h):
        return None
    r0 = (s0.lam - levels[i - 1].lam) / h
    if r0 == 0:
        return None
    d1_0 = [1 / r0, -1 / r0]
    if order == 2:
        w1 = w[0] / 2 if solver_type == "midpoint" else w[1]
        return LinearUpdate(a, tuple(combine([w[0]], d1_0, 1.0, w1)), noise)
    r1 = (levels[i - 1].lam - levels[i - 2].lam) / h
    if r1 == 0:
        return None
    d1_1 = [0.0, 1 / r1, -1 / r1]
    diff = combine(d1_0, d1_1, 1.0, -1.0)
    d1 = combine(d1_0, diff, 1.0, r0 / (r0 + r1))
    d2 = [x / (r0 + r1) for x in diff]
    weights = combine(combine([w[0]], d1, 1.0, w[1]), d2, 1.0, w[2])
    return LinearUpdate(a, tuple(weights), noise)


class DPMSolverMultistepScheduler(ExponentialIntegratorScheduler):
    """Multistep DPM-Solver / DPM-Solver++.

    Lu et al. 2022, "DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic Model Sampling
    in Around 10 Steps", arXiv:2206.00927; Lu et al. 2022b, "DPM-Solver++: Fast Solver for
    Guided Sampling of Diffusion Probabilistic Models", arXiv:2211.01095.

    The exact solution of the diffusion ODE from s to t (lambda = log alpha - log sigma,
    h = lambda_t - lambda_s) is, for the data prediction x0(lambda) (DPM-Solver++)::

        x_t = sigma_t / sigma_s x_s + sigma_t int_{lambda_s}^{lambda_t} e^lambda x0(lambda) dlambda

    and for the noise prediction (DPM-Solver) x_t = alpha_t / alpha_s x_s
    - alpha_t int e^{-lambda} eps(lambda) dlambda. Expanding x0 (or eps) in a Taylor series
    around lambda_s, estimating the derivatives from the previous steps' outputs, and
    integrating the exponentially weighted terms exactly gives the order-k multistep updates
    (`multistep_updates`). The first order is DDIM. The SDE variants (DPM-Solver++ section 5)
    add fresh Gaussian noise each step.

    At solver_order=3, the sde-dpmsolver++ D2 weight is alpha_t (1/2 - phi_2(-2h)) from the
    expansion above; the reference uses -alpha_t (1/2 + phi_2(-2h)), so that one combination
    does not reproduce its numbers (docs/schedulers.md).
    """

    config_class = DPMSolverMultistepConfig
    step_options: ClassVar[frozenset[str]] = frozenset({"generator", "variance_noise"})
    order: ClassVar[int] = 1

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
        if timesteps is not None and (ramp or c.use_lu_lambdas):
            flag = f"use_{ramp}_sigmas" if ramp else "use_lu_lambdas"
            raise ValueError(f"set_timesteps: custom timesteps cannot be combined with {flag}")
        train = self._train_sigmas()
        round_ts = c.beta_schedule != "squaredcos_cap_v2"
        if timesteps is not None:
            steps = np.asarray(timesteps).astype(np.int64)
            sigmas = interpolate_sigmas(steps, train)
        elif ramp is not None:
            steps, sigmas = ramped_schedule(
                ramp, train, num_inference_steps, ramp == "karras" and round_ts
            )
        elif c.use_lu_lambdas:
            steps, sigmas = lu_lambda_schedule(train, num_inference_steps, round_ts)
        else:
            last = clipped_last_timestep(self.lambda_t, c.lambda_min_clipped, c.num_train_timesteps)
            steps = solver_timesteps(
                c.timestep_spacing, num_inference_steps, last, c.num_train_timesteps, c.steps_offset
            )
            sigmas = interpolate_sigmas(steps, train)
        final = self._sigma_min_of_training() if c.final_sigmas_type == "sigma_min" else 0.0
        self._store_schedule(steps, np.append(sigmas, final), device)

    def _precompute(self) -> None:
        c = self.config
        n = len(self.timesteps)
        self._updates = tuple(
            tuple(
                multistep_updates(c.algorithm_type, c.solver_type, self.levels, i, k)
                for k in range(1, c.solver_order + 1)
            )
            for i in range(n)
        )

    def _order_at(self, i: int) -> int:
        """Warm up from first order, and lower the order at the end of short schedules."""
        c = self.config
        n = len(self.timesteps)
        short = c.lower_order_final and n < 15
        final = i == n - 1 and (c.euler_at_final or short or c.final_sigmas_type == "zero")
        second = i == n - 2 and short
        if c.solver_order == 1 or self.lower_order_nums < 1 or final:
            return 1
        if c.solver_order == 2 or self.lower_order_nums < 2 or second:
            return 2
        return 3

    def convert_model_output(
        self, model_output: torch.Tensor, sample: torch.Tensor, index: int | None = None
    ) -> torch.Tensor:
        """x0 (dpmsolver++ variants) or eps (dpmsolver variants) at the current step."""
        i = self._step_index if index is None else index
        c = self.config
        if c.variance_type is not None and c.prediction_type == "epsilon":
            model_output = model_output[:, : model_output.shape[1] // 2]
        if c.algorithm_type in DATA_PREDICTION:
            return self.data_prediction(model_output, sample, i)
        return self.noise_prediction(model_output, sample, i)

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
        variance_noise: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> Any:
        """Advance `sample` from the current schedule entry to the next."""
        self._require_schedule()
        c = self.config
        i = self._current_index(timestep)
        converted = self.convert_model_output(model_output, sample, i)
        self._push_output(converted)
        order = self._order_at(i)
        update = self._updates[i][order - 1]
        if update is None:
            raise ValueError(
                f"{type(self).__name__}.step: order {order} is undefined at step {i} "
                "(repeated noise levels in the schedule)"
            )
        noise = None
        if c.algorithm_type in SDE:
            noise = draw_noise(model_output, generator, torch.float32, variance_noise)
        x = sample.to(torch.float64 if sample.dtype == torch.float64 else torch.float32)
        prev_sample = apply_update(update, x, self._history(order), noise).to(model_output.dtype)
        self.lower_order_nums = min(self.lower_order_nums + 1, c.solver_order)
        self._step_index = i + 1
        x0 = (
            converted
            if c.algorithm_type in DATA_PREDICTION
            else self._x0_from_noise(converted, sample, i)
        )
        return output(prev_sample, x0, return_dict)
