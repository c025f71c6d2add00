"""PNDM: pseudo numerical methods (pseudo Runge-Kutta warm-up, then pseudo linear multistep)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch

from ._base import BetaConfig, BetaScheduler, output, timestep_int
from ._spacing import TimestepSpacing, check_num_inference_steps


class PNDMConfig(BetaConfig):
    skip_prk_steps: bool = False
    """Start with a second-order pseudo-improved-Euler step instead of 3 pseudo-RK steps."""
    set_alpha_to_one: bool = False
    prediction_type: Literal["epsilon", "v_prediction"] = "epsilon"
    timestep_spacing: TimestepSpacing = "leading"
    steps_offset: int = 0


def adams_bashforth(history: list[torch.Tensor]) -> torch.Tensor:
    """Linear multistep combination of the last 1-4 noise estimates (PNDM eq. 12)."""
    e = history
    if len(e) == 1:
        return e[-1]
    if len(e) == 2:
        return (3 * e[-1] - e[-2]) / 2
    if len(e) == 3:
        return (23 * e[-1] - 16 * e[-2] + 5 * e[-3]) / 12
    return (1 / 24) * (55 * e[-1] - 59 * e[-2] + 37 * e[-3] - 9 * e[-4])


class PNDMScheduler(BetaScheduler):
    """Liu, Ren, Lin & Zhao 2022, "Pseudo Numerical Methods for Diffusion Models on
    Manifolds", arXiv:2202.09778.

    The transfer phi(x_t, eps, t, t - delta) of eq. 11 moves x along the DDIM manifold::

        x_{t-d} = sqrt(a_{t-d} / a_t) x_t
                  - (a_{t-d} - a_t) eps / (a_t sqrt(1 - a_{t-d}) + sqrt(a_t (1 - a_t) a_{t-d}))

    The first three steps use the pseudo Runge-Kutta method (eq. 13: four network calls
    per step at t, t - delta/2, t - delta/2, t - delta, weights 1/6, 1/3, 1/3, 1/6), after
    which the pseudo linear multistep method (eq. 12) needs one call per step. With
    `skip_prk_steps` the warm-up is a single pseudo-improved-Euler step, as in the
    Stable Diffusion configs.
    """

    config_class = PNDMConfig
    step_options: ClassVar[frozenset[str]] = frozenset()
    init_noise_sigma = 1.0
    pndm_order = 4

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.final_alpha_cumprod = 1.0 if self.config.set_alpha_to_one else self._alpha_bars[0]
        t = self.config.num_train_timesteps
        self._timesteps = np.arange(0, t)[::-1].copy()
        self.timesteps = torch.from_numpy(self._timesteps.copy())
        self._transfer_cache: dict[tuple[int, int], tuple[float, ...]] = {}
        self.prk_timesteps: np.ndarray | None = None
        self.plms_timesteps: np.ndarray | None = None
        self._reset_history()

    def _reset_history(self) -> None:
        self.ets: list[torch.Tensor] = []
        self.counter = 0
        self.cur_model_output: Any = 0
        self.cur_sample: torch.Tensor | None = None

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        c = self.config
        check_num_inference_steps(num_inference_steps, c.num_train_timesteps)
        self.num_inference_steps = n = num_inference_steps
        big_t = c.num_train_timesteps
        if c.timestep_spacing == "linspace":
            steps = np.linspace(0, big_t - 1, n).round().astype(np.int64)
        elif c.timestep_spacing == "leading":
            steps = (np.arange(0, n) * (big_t // n)).round() + c.steps_offset
        elif c.timestep_spacing == "trailing":
            steps = np.round(np.arange(big_t, 0, -big_t / n))[::-1].astype(np.int64) - 1
        else:
            raise ValueError(f"timestep_spacing: unexpected {c.timestep_spacing!r}")
        self._timesteps = steps  # ascending
        if c.skip_prk_steps:
            self.prk_timesteps = np.array([], dtype=np.int64)
            self.plms_timesteps = np.concatenate([steps[:-1], steps[-2:-1], steps[-1:]])[
                ::-1
            ].copy()
        else:
            half = big_t // n // 2
            prk = np.array(steps[-self.pndm_order :]).repeat(2) + np.tile(
                np.array([0, half]), self.pndm_order
            )
            self.prk_timesteps = prk[:-1].repeat(2)[1:-1][::-1].copy()
            self.plms_timesteps = steps[:-3][::-1].copy()
        all_steps = np.concatenate([self.prk_timesteps, self.plms_timesteps]).astype(np.int64)
        self.timesteps = torch.from_numpy(all_steps).to(device)
        self._reset_history()
        every = torch.arange(big_t)
        self._transfer_cache = {}
        for gap in sorted({big_t // n, big_t // n // 2, big_t // n // 2 * 2}):
            self._transfer_cache.update(self._transfer_table(every, every - gap))

    # ----------------------------------------------------------------------- the transfer

    def _transfer_table(
        self, t: torch.Tensor, t_prev: torch.Tensor
    ) -> dict[tuple[int, int], tuple[float, ...]]:
        """Scalars of eq. 11 for each pair t -> t_prev, on the float32 schedule."""
        ac = self.alphas_cumprod
        a_t = ac[t]
        final = torch.tensor(self.final_alpha_cumprod, dtype=ac.dtype)
        a_prev = torch.where(t_prev >= 0, ac[t_prev.clamp(min=0)], final)
        sample_coef = (a_prev / a_t) ** 0.5
        denominator = a_t * (1 - a_prev) ** 0.5 + (a_t * (1 - a_t) * a_prev) ** 0.5
        columns = (sample_coef, a_prev - a_t, denominator, a_t**0.5, (1 - a_t) ** 0.5)
        rows = zip(*(c.tolist() for c in columns))
        return dict(zip(zip(t.tolist(), t_prev.tolist()), rows))

    def _transfer_coefficients(self, t: int, t_prev: int) -> tuple[float, ...]:
        key = (t, t_prev)
        if key not in self._transfer_cache:
            table = self._transfer_table(torch.tensor([t]), torch.tensor([t_prev]))
            self._transfer_cache = {**self._transfer_cache, **table}
        return self._transfer_cache[key]

    def _transfer(
        self, sample: torch.Tensor, t: int, t_prev: int, eps: torch.Tensor
    ) -> torch.Tensor:
        """phi of eq. 11."""
        sample_coef, gap, denominator, sqrt_a, sqrt_1ma = self._transfer_coefficients(t, t_prev)
        if self.config.prediction_type == "v_prediction":
            eps = sqrt_a * eps + sqrt_1ma * sample
        return sample_coef * sample - gap * eps / denominator

    # ------------------------------------------------------------------------------ steps

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        """A pseudo Runge-Kutta stage during warm-up, else a pseudo linear multistep step."""
        if self.num_inference_steps is None:
            raise ValueError("PNDMScheduler.step: call set_timesteps(num_inference_steps) first")
        warming_up = self.counter < len(self.prk_timesteps) and not self.config.skip_prk_steps
        if warming_up:
            return self.step_prk(model_output, timestep, sample, return_dict)
        return self.step_plms(model_output, timestep, sample, return_dict)

    def step_prk(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        """Stage `counter % 4` of a pseudo Runge-Kutta step (eq. 13)."""
        stage = self.counter % 4
        half = self.config.num_train_timesteps // self.num_inference_steps // 2
        t_prev = timestep_int(timestep) - (0 if self.counter % 2 else half)
        t_start = int(self.prk_timesteps[self.counter // 4 * 4])
        eps = model_output
        if stage == 0:
            self.cur_model_output = (1 / 6) * model_output
            self.ets = [*self.ets, model_output]
            self.cur_sample = sample
        elif stage in (1, 2):
            self.cur_model_output = self.cur_model_output + (1 / 3) * model_output
        else:
            eps = self.cur_model_output + (1 / 6) * model_output
            self.cur_model_output = 0
        start = self.cur_sample if self.cur_sample is not None else sample
        prev_sample = self._transfer(start, t_start, t_prev, eps)
        self.counter += 1
        return output(prev_sample, None, return_dict)

    def step_plms(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        return_dict: bool = True,
    ) -> Any:
        """A pseudo linear multistep step (eq. 12), second-order on the first call when the
        pseudo-RK warm-up is skipped (its second call revisits the first step)."""
        if not self.config.skip_prk_steps and len(self.ets) < 3:
            raise ValueError(
                "PNDMScheduler.step_plms: needs 3 pseudo-RK steps first; use "
                "skip_prk_steps=True to start with PLMS"
            )
        ratio = self.config.num_train_timesteps // self.num_inference_steps
        t = timestep_int(timestep)
        t_prev = t - ratio
        if self.counter != 1:
            self.ets = [*self.ets[-3:], model_output]
        else:
            t_prev, t = t, t + ratio
        if len(self.ets) == 1 and self.counter == 0:
            eps = model_output
            self.cur_sample = sample
        elif len(self.ets) == 1 and self.counter == 1:
            eps = (model_output + self.ets[-1]) / 2
            sample, self.cur_sample = self.cur_sample, None
        else:
            eps = adams_bashforth(self.ets)
        prev_sample = self._transfer(sample, t, t_prev, eps)
        self.counter += 1
        return output(prev_sample, None, return_dict)
