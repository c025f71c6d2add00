"""UniPC: unified predictor-corrector multistep solver."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from ._base import output
from ._multistep import (
    ExponentialIntegratorScheduler,
    Level,
    LinearUpdate,
    MultistepConfig,
    apply_update,
    ramped_schedule,
    remap_foreign,
    scaled_phis,
    solver_timesteps,
)
from ._sigmas import chosen_ramp, interpolate_sigmas
from ._spacing import TimestepSpacing


class UniPCMultistepConfig(MultistepConfig):
    predict_x0: bool = True
    """Integrate the data prediction (UniPC on DPM-Solver++) instead of the noise prediction."""
    solver_type: Literal["bh1", "bh2"] = "bh2"
    """B(h) = h (bh1) or e^h - 1 (bh2), section 3.3 of the paper."""
    disable_corrector: list[int] = Field(default_factory=list)
    """Step indices whose result is not corrected (large guidance scales misalign early steps)."""
    solver_p: None = None
    """The reference can wrap another scheduler as predictor; diffusekit supports only None."""
    timestep_spacing: TimestepSpacing = "linspace"
    steps_offset: int = 0
    final_sigmas_type: Literal["zero", "sigma_min"] = "zero"
    rescale_betas_zero_snr: bool = False
    sigma_min: float | None = None
    sigma_max: float | None = None
    shift_terminal: float | None = None

    @field_validator("solver_type", mode="before")
    @classmethod
    def _from_other_solvers(cls, value: Any) -> Any:
        return remap_foreign(value, ("midpoint", "heun", "logrho"), "bh2")

    @field_validator("shift_terminal")
    @classmethod
    def _no_shift_terminal(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("shift_terminal applies to flow sigmas, which are not supported")
        return value


def unipc_update(
    levels: tuple[Level, ...],
    start: int,
    order: int,
    predict_x0: bool,
    solver_type: str,
    corrector: bool,
) -> LinearUpdate | None:
    """UniP (predictor) or UniC (corrector) B(h) update from entry `start` to `start + 1`.

    Zhao et al. 2023, Algorithms 1-3 with hh = -h for data prediction (h otherwise),
    r_k = (lambda_{s_k} - lambda_{s_0}) / h for the earlier points, D_k = (m_k - m_0) / r_k::

        b_i   = i! hh phi_{i+1}(hh) / B(h),      R_ij = r_j^(i-1)
        x_t   = A x_s - scale (e^hh - 1) m_0 - scale B(h) sum_k rho_k D_k

    with (A, scale) = (sigma_t / sigma_s, alpha_t) for data and (alpha_t / alpha_s, sigma_t)
    for noise prediction. The predictor solves R rho = b on the k - 1 earlier points (rho = 1/2
    at order 2); the corrector adds the new output m_t as the point r = 1 and solves the full
    system (rho = 1/2 at order 1). Output coefficients are for [m_t (corrector only), m_0, ..].
    """
    if start - (order - 1) < 0:
        return None
    t, s0 = levels[start + 1], levels[start]
    h = t.lam - s0.lam
    if h == 0:
        return LinearUpdate(1.0, ())
    if not math.isfinite(h) and order > 1:
        return None
    hh = -h if predict_x0 else h
    a_coef, scale = (t.sigma / s0.sigma, t.alpha) if predict_x0 else (t.alpha / s0.alpha, t.sigma)
    phis = scaled_phis(hh, order + 1)
    b_h = hh if solver_type == "bh1" else math.expm1(hh)
    rks = [(levels[start - k].lam - s0.lam) / h for k in range(1, order)]
    b = np.array([phis[i] * math.factorial(i) / b_h for i in range(1, order + 1)])
    rhos = _solve_rhos(rks, b, order, corrector)
    outputs = [-scale * phis[0]] + [0.0] * (order - 1)
    for k, (r, rho) in enumerate(zip(rks, rhos), start=1):
        outputs[k] -= scale * b_h * rho / r
        outputs[0] += scale * b_h * rho / r
    if corrector:
        rho_t = rhos[-1]
        outputs[0] += scale * b_h * rho_t
        outputs = [-scale * b_h * rho_t, *outputs]
    return LinearUpdate(a_coef, tuple(outputs))


def _solve_rhos(rks: list[float], b: np.ndarray, order: int, corrector: bool) -> list[float]:
    if corrector:
        if order == 1:
            return [0.5]
        nodes = np.array([*rks, 1.0])
        matrix = np.stack([nodes**i for i in range(order)])
        return np.linalg.solve(matrix, b).tolist()
    if order == 1:
        return []
    if order == 2:
        return [0.5]
    nodes = np.array(rks)
    matrix = np.stack([nodes**i for i in range(order - 1)])
    return np.linalg.solve(matrix, b[: order - 1]).tolist()


class UniPCMultistepScheduler(ExponentialIntegratorScheduler):
    """UniPC multistep solver.

    Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of
    Diffusion Models", arXiv:2302.04867.

    Each step first corrects the sample the previous step predicted, using the model output
    just evaluated there (UniC, which raises the order by one at no extra model call), then
    predicts the next sample with the multistep UniP of the current order. Orders warm up
    from 1 and, with lower_order_final, shrink over the last steps.
    """

    config_class = UniPCMultistepConfig
    step_options: ClassVar[frozenset[str]] = frozenset()
    order: ClassVar[int] = 1

    def _reset_call_state(self) -> None:
        super()._reset_call_state()
        self.last_sample: torch.Tensor | None = None
        self.this_order = 1

    @property
    def predict_x0(self) -> bool:
        return bool(self.config.predict_x0)

    @property
    def disable_corrector(self) -> list[int]:
        return list(self.config.disable_corrector)

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        device: Any = None,
        sigmas: list[float] | None = None,
        mu: float | None = None,
    ) -> None:
        """Build the schedule for `num_inference_steps` steps."""
        c = self.config
        if sigmas is not None or mu is not None:
            raise ValueError("set_timesteps: custom sigmas and mu need flow sigmas, unsupported")
        if num_inference_steps is None:
            raise ValueError("set_timesteps: num_inference_steps is required")
        ramp = chosen_ramp(c)
        train = self._train_sigmas()
        n_train = c.num_train_timesteps
        if ramp is not None:
            steps, values = ramped_schedule(
                ramp, train, num_inference_steps, ramp == "karras", c.sigma_min, c.sigma_max
            )
            final = float(values[-1]) if c.final_sigmas_type == "sigma_min" else 0.0
        else:
            steps = solver_timesteps(
                c.timestep_spacing, num_inference_steps, n_train, n_train, c.steps_offset
            )
            values = interpolate_sigmas(steps, train)
            final = self._sigma_min_of_training() if c.final_sigmas_type == "sigma_min" else 0.0
        self._store_schedule(steps, np.append(values, final), device)

    def _precompute(self) -> None:
        c = self.config
        n = len(self.timesteps)

        def table(corrector: bool, shift: int) -> tuple[tuple[LinearUpdate | None, ...], ...]:
            return tuple(
                tuple(
                    unipc_update(self.levels, i - shift, k, c.predict_x0, c.solver_type, corrector)
                    if i - shift >= 0
                    else None
                    for k in range(1, c.solver_order + 1)
                )
                for i in range(n)
            )

        self._predictors = table(False, 0)
        self._correctors = table(True, 1)

    def convert_model_output(
        self, model_output: torch.Tensor, sample: torch.Tensor, index: int | None = None
    ) -> torch.Tensor:
        """x0 (predict_x0) or eps at the current step."""
        i = self._step_index if index is None else index
        if self.config.predict_x0:
            return self.data_prediction(model_output, sample, i)
        return self.noise_prediction(model_output, sample, i)

    def _this_order(self, i: int) -> int:
        c = self.config
        order = c.solver_order
        if c.lower_order_final:
            order = min(order, len(self.timesteps) - i)
        return min(order, self.lower_order_nums + 1)

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        """Correct the current sample (UniC), then predict the next one (UniP)."""
        self._require_schedule()
        c = self.config
        i = self._current_index(timestep)
        converted = self.convert_model_output(model_output, sample, i)
        if i > 0 and (i - 1) not in c.disable_corrector and self.last_sample is not None:
            corrector = _defined(self._correctors[i][self.this_order - 1], i)
            history = [converted, *self._history(self.this_order)]
            sample = apply_update(corrector, self.last_sample, history)
        self._push_output(converted)
        self.this_order = self._this_order(i)
        self.last_sample = sample
        predictor = _defined(self._predictors[i][self.this_order - 1], i)
        prev_sample = apply_update(predictor, sample, self._history(self.this_order))
        self.lower_order_nums = min(self.lower_order_nums + 1, c.solver_order)
        self._step_index = i + 1
        x0 = converted if c.predict_x0 else self._x0_from_noise(converted, sample, i)
        return output(prev_sample, x0, return_dict)


def _defined(update: LinearUpdate | None, i: int) -> LinearUpdate:
    if update is None:
        raise ValueError(
            f"UniPCMultistepScheduler.step: the update at step {i} is undefined "
            "(repeated or infinite noise levels in the schedule)"
        )
    return update
