"""Shared machinery of the exponential-integrator solvers (DPM-Solver, DPM-Solver++, UniPC, DEIS).

They all work on the variance-preserving process x_t = alpha_t x0 + sigma_t eps and step in
lambda_t = log(alpha_t) - log(sigma_t) (half the log-SNR). The inference schedule is stored as
the k-diffusion noise level s = sigma_t / alpha_t (so alpha_t = 1 / sqrt(1 + s^2),
sigma_t = s alpha_t, lambda_t = -log s), one entry per step plus the final one.

Every update of these solvers is linear in the current sample, the history of converted model
outputs and (for SDE variants) fresh noise, with weights that depend only on the schedule. So
`set_timesteps` precomputes a `LinearUpdate` per step and order, and `step` only combines
tensors: cheap, and the same on every device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from diffusekit.noise import randn_tensor

from ._base import BetaConfig, BetaScheduler, StepCounter
from ._sigmas import chosen_ramp, ramp_sigmas, sigma_to_t
from ._sigmas import sigmas_from_alphas_cumprod as train_sigmas
from ._thresholding import dynamic_threshold

SolverPrediction = Literal["epsilon", "sample", "v_prediction", "flow_prediction"]


class MultistepConfig(BetaConfig):
    """Fields shared by the exponential-integrator solvers (names and defaults of the reference)."""

    solver_order: int = Field(2, ge=1, le=3)
    prediction_type: SolverPrediction = "epsilon"
    thresholding: bool = False
    dynamic_thresholding_ratio: float = 0.995
    sample_max_value: float = 1.0
    lower_order_final: bool = True
    use_karras_sigmas: bool = False
    use_exponential_sigmas: bool = False
    use_beta_sigmas: bool = False
    use_flow_sigmas: bool = False
    flow_shift: float = 1.0
    use_dynamic_shifting: bool = False
    time_shift_type: Literal["exponential"] = "exponential"

    @model_validator(mode="after")
    def _check_supported(self) -> MultistepConfig:
        chosen_ramp(self.__dict__)
        if self.use_flow_sigmas or self.prediction_type == "flow_prediction":
            raise ValueError(
                "flow matching (use_flow_sigmas / prediction_type='flow_prediction') is not "
                "supported by this diffusekit scheduler yet"
            )
        if self.use_dynamic_shifting:
            raise ValueError("use_dynamic_shifting applies to flow sigmas, which are not supported")
        return self


def remap_foreign(value: Any, foreign: Sequence[str], replacement: str) -> Any:
    """Another solver's choice (from a swapped scheduler's config) mapped to this one's default."""
    return replacement if value in foreign else value


# ---------------------------------------------------------------------------- noise levels


@dataclass(frozen=True)
class Level:
    """alpha_t, sigma_t and lambda_t of one schedule entry."""

    alpha: float
    sigma: float
    lam: float


def level(s: float) -> Level:
    """From the k-diffusion noise level s = sigma_t / alpha_t (s = 0 is the clean data)."""
    alpha = 1.0 / math.sqrt(s * s + 1.0)
    sigma = s * alpha
    lam = math.inf if s == 0 else math.log(alpha) - math.log(sigma)
    return Level(alpha, sigma, lam)


def scaled_phis(z: float, n: int) -> list[float]:
    """[z phi_1(z), ..., z phi_n(z)], phi_k(z) = sum_{j>=0} z^j / (j + k)! (the phi-functions
    of exponential integrators), by z phi_{k+1}(z) = phi_k(z) - 1/k!. Finite at z = -inf."""
    if z == 0:
        return [0.0] * n
    out = [math.expm1(z)]
    for k in range(1, n):
        out.append(out[-1] / z - 1.0 / math.factorial(k))
    return out


DpmAlgorithm = Literal["dpmsolver", "dpmsolver++", "sde-dpmsolver", "sde-dpmsolver++"]


def dpm_taylor_weights(
    algorithm: str, t: Level, s: Level, n: int
) -> tuple[float, list[float], float]:
    """(A, [w_0..w_{n-1}], B) with x_t = A x_s + sum_k w_k D_k + B z.

    D_k stands for h^k times the k-th lambda-derivative of the converted model output at s
    (D_0 the output itself); h = lambda_t - lambda_s. The weights are the exact integrals of
    the Taylor terms (Lu et al. 2022, eq. 3.4 for noise prediction; Lu et al. 2022b, eq. 9
    for data prediction; the SDE forms from section 5 of the latter): w_k = -alpha_t h
    phi_{k+1}(-h) [++] or -sigma_t h phi_{k+1}(h) [noise], and with -2h resp. a doubled
    weight for the SDE variants.
    """
    h = t.lam - s.lam
    if algorithm == "dpmsolver++":
        return t.sigma / s.sigma, [-t.alpha * a for a in scaled_phis(-h, n)], 0.0
    if algorithm == "dpmsolver":
        return t.alpha / s.alpha, [-t.sigma * a for a in scaled_phis(h, n)], 0.0
    if algorithm == "sde-dpmsolver++":
        weights = [-t.alpha * a for a in scaled_phis(-2.0 * h, n)]
        return t.sigma / s.sigma * math.exp(-h), weights, t.sigma * math.sqrt(-math.expm1(-2.0 * h))
    if algorithm == "sde-dpmsolver":
        weights = [-2.0 * t.sigma * a for a in scaled_phis(h, n)]
        return t.alpha / s.alpha, weights, t.sigma * math.sqrt(math.expm1(2.0 * h))
    raise ValueError(f"algorithm_type: unknown DPM-Solver variant {algorithm!r}")


# ---------------------------------------------------------------------------- linear updates


@dataclass(frozen=True)
class LinearUpdate:
    """x_next = sample * x + sum_j outputs[j] * m_j + noise * z, m_0 the newest output."""

    sample: float
    outputs: tuple[float, ...]
    noise: float = 0.0


def combine(
    a: Sequence[float], b: Sequence[float], wa: float = 1.0, wb: float = 1.0
) -> list[float]:
    """wa * a + wb * b for coefficient vectors of different lengths."""
    size = max(len(a), len(b))
    pad_a = list(a) + [0.0] * (size - len(a))
    pad_b = list(b) + [0.0] * (size - len(b))
    return [wa * x + wb * y for x, y in zip(pad_a, pad_b)]


def apply_update(
    update: LinearUpdate,
    sample: torch.Tensor,
    outputs: Sequence[torch.Tensor],
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Evaluate a `LinearUpdate` in float32 (or float64), returning the sample's dtype.

    The outputs enter as m_0 and the differences m_j - m_0: consecutive outputs are close,
    and their large, opposite weights would otherwise cancel in float32.
    """
    work = sample.dtype if sample.dtype == torch.float64 else torch.float32
    x = sample.to(work) * update.sample
    weights = update.outputs[: len(outputs)]
    if weights:
        base = outputs[0].to(work)
        x = x + base * math.fsum(weights)
        for weight, m in zip(weights[1:], outputs[1:]):
            if weight != 0.0:
                x = x + (m.to(work) - base) * weight
    if update.noise != 0.0 and noise is not None:
        x = x + noise.to(work) * update.noise
    return x.to(sample.dtype)


# ---------------------------------------------------------------------------- schedules


def clipped_last_timestep(lambda_t: torch.Tensor, lambda_min_clipped: float, n_train: int) -> int:
    """One past the largest training timestep whose lambda is >= lambda_min_clipped."""
    clipped = int(torch.searchsorted(torch.flip(lambda_t, [0]), lambda_min_clipped))
    return n_train - clipped


def solver_timesteps(
    spacing: str, n: int, last: int, n_train: int, steps_offset: int = 0
) -> np.ndarray:
    """n descending int64 timesteps in [0, last): the n + 1 point grid without its 0 end."""
    if spacing == "linspace":
        return np.linspace(0, last - 1, n + 1).round()[::-1][:-1].astype(np.int64)
    if spacing == "leading":
        ratio = last // (n + 1)
        return (np.arange(0, n + 1) * ratio).round()[::-1][:-1].astype(np.int64) + steps_offset
    if spacing == "trailing":
        return np.arange(last, 0, -n_train / n).round().astype(np.int64) - 1
    raise ValueError(
        f"timestep_spacing: expected 'linspace', 'leading' or 'trailing', found {spacing!r}"
    )


def ramped_schedule(
    ramp: str,
    train: np.ndarray,
    n: int,
    round_timesteps: bool,
    sigma_min: float | None = None,
    sigma_max: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(timesteps, sigmas) of a Karras / exponential / beta ramp over the whole training range."""
    sigmas = ramp_sigmas(ramp, np.flip(train).copy(), n, sigma_min, sigma_max)
    timesteps = sigma_to_t(sigmas, np.log(train))
    if round_timesteps:
        timesteps = timesteps.round()
    return timesteps.astype(np.int64), sigmas


def lu_lambda_schedule(
    train: np.ndarray, n: int, round_timesteps: bool
) -> tuple[np.ndarray, np.ndarray]:
    """DPM-Solver's uniform-lambda steps (Lu et al. 2022, section 3.3): log s evenly spaced."""
    log_s = np.log(train)
    sigmas = np.exp(np.linspace(log_s[-1], log_s[0], n))
    timesteps = sigma_to_t(sigmas, log_s)
    if round_timesteps:
        timesteps = timesteps.round()
    return timesteps.astype(np.int64), sigmas


# ---------------------------------------------------------------------------- the base class


class ExponentialIntegratorScheduler(StepCounter, BetaScheduler):
    """Base of the solvers that step x_t along lambda with precomputed linear updates.

    Subclasses implement `set_timesteps` (calling `_store_schedule`) and `step`. Per-call state
    (`model_outputs`, `lower_order_nums`, `_step_index`, ...) is reassigned, never mutated in
    place, so `fork()` copies never share it.
    """

    config_class: ClassVar[type[BetaConfig]] = MultistepConfig

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        if self.config.get("rescale_betas_zero_snr"):
            ac = self.alphas_cumprod.clone()
            ac[-1] = 2**-24
            self.alphas_cumprod = ac
        self.alpha_t = torch.sqrt(self.alphas_cumprod)
        self.sigma_t = torch.sqrt(1 - self.alphas_cumprod)
        self.lambda_t = torch.log(self.alpha_t) - torch.log(self.sigma_t)
        self.sigmas = ((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5
        self.init_noise_sigma = 1.0
        n = self.config.num_train_timesteps
        self.timesteps = torch.from_numpy(np.linspace(0, n - 1, n, dtype=np.float32)[::-1].copy())
        self.levels: tuple[Level, ...] = ()
        self._reset_call_state()

    # ------------------------------------------------------------------ schedule

    def _train_sigmas(self) -> np.ndarray:
        return train_sigmas(self.alphas_cumprod)

    def _sigma_min_of_training(self) -> float:
        ac0 = self.alphas_cumprod[0]
        return float(((1 - ac0) / ac0) ** 0.5)

    def _store_schedule(self, timesteps: np.ndarray, sigmas: np.ndarray, device: Any) -> None:
        """`sigmas` has one entry per timestep plus the final one."""
        sig = torch.from_numpy(np.asarray(sigmas).astype(np.float32))
        self.sigmas = sig
        self.timesteps = torch.from_numpy(np.asarray(timesteps)).to(
            device=device, dtype=torch.int64
        )
        self.num_inference_steps = len(self.timesteps)
        self.levels = tuple(level(s) for s in sig.tolist())
        self._reset_call_state()
        self._precompute()

    def _precompute(self) -> None:
        """Fill the per-step tables of `LinearUpdate`s (subclasses)."""

    def _reset_call_state(self) -> None:
        order = self.config.solver_order
        self.model_outputs: list[torch.Tensor | None] = [None] * order
        self.lower_order_nums = 0
        self._step_index: int | None = None
        self._begin_index: int | None = None

    def _require_schedule(self) -> None:
        if self.num_inference_steps is None:
            raise RuntimeError(
                f"{type(self).__name__}.step: call set_timesteps(...) before stepping"
            )

    def _index_of_absent_timestep(self, timestep: Any) -> int:
        """A timestep off the schedule maps to its last entry, as the reference does."""
        return len(self.timesteps) - 1

    def _push_output(self, converted: torch.Tensor) -> None:
        self.model_outputs = [*self.model_outputs[1:], converted]

    def _history(self, order: int) -> list[torch.Tensor]:
        """The `order` newest converted outputs, newest first."""
        return [m for m in reversed(self.model_outputs[-order:]) if m is not None]

    # ------------------------------------------------------------------ model output

    def data_prediction(
        self, model_output: torch.Tensor, sample: torch.Tensor, i: int
    ) -> torch.Tensor:
        """x0 predicted at schedule entry i (dynamic thresholding applied when configured)."""
        c = self.config
        lv = self.levels[i]
        if c.prediction_type == "epsilon":
            x0 = (sample - lv.sigma * model_output) / lv.alpha
        elif c.prediction_type == "sample":
            x0 = model_output
        else:
            x0 = lv.alpha * sample - lv.sigma * model_output
        if c.thresholding:
            x0 = dynamic_threshold(x0, c.dynamic_thresholding_ratio, c.sample_max_value)
        return x0

    def noise_prediction(
        self, model_output: torch.Tensor, sample: torch.Tensor, i: int
    ) -> torch.Tensor:
        """eps predicted at schedule entry i; with thresholding, eps of the thresholded x0."""
        c = self.config
        lv = self.levels[i]
        if c.thresholding:
            x0 = self.data_prediction(model_output, sample, i)
            return (sample - lv.alpha * x0) / lv.sigma
        if c.prediction_type == "epsilon":
            return model_output
        if c.prediction_type == "sample":
            return (sample - lv.alpha * model_output) / lv.sigma
        return lv.alpha * model_output + lv.sigma * sample

    def _x0_from_noise(self, eps: torch.Tensor, sample: torch.Tensor, i: int) -> torch.Tensor:
        lv = self.levels[i]
        return (sample - lv.sigma * eps) / lv.alpha

    # ------------------------------------------------------------------ model I/O

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        """These solvers feed x_t to the network unscaled."""
        return sample

    def add_noise(
        self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        """alpha x0 + sigma eps at the entries of `timesteps` (or the begin / current index)."""
        timesteps = torch.as_tensor(timesteps).reshape(-1)
        if self._begin_index is None:
            schedule = self.timesteps.to(original_samples.device)
            t = timesteps.to(original_samples.device)
            indices = [self.index_for_timestep(ti, schedule) for ti in t]
        elif self._step_index is not None:
            indices = [self._step_index] * timesteps.shape[0]
        else:
            indices = [self._begin_index] * timesteps.shape[0]
        s = self.sigmas.to(device=original_samples.device, dtype=original_samples.dtype)[indices]
        s = s.reshape(-1, *([1] * (original_samples.ndim - 1)))
        alpha = 1 / (s**2 + 1) ** 0.5
        return alpha * original_samples + s * alpha * noise


def draw_noise(
    like: torch.Tensor,
    generator: torch.Generator | None,
    dtype: torch.dtype,
    given: torch.Tensor | None = None,
) -> torch.Tensor:
    """The SDE variants' z: `given` if passed, else drawn as the reference draws it."""
    if given is not None:
        return given.to(device=like.device, dtype=dtype)
    return randn_tensor(like.shape, generator, like.device, dtype)


__all__ = [
    "DpmAlgorithm",
    "ExponentialIntegratorScheduler",
    "Level",
    "LinearUpdate",
    "MultistepConfig",
    "apply_update",
    "clipped_last_timestep",
    "combine",
    "dpm_taylor_weights",
    "draw_noise",
    "level",
    "lu_lambda_schedule",
    "ramped_schedule",
    "remap_foreign",
    "scaled_phis",
    "solver_timesteps",
]
