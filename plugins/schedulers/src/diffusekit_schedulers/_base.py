"""Bases shared by the schedulers trained on a discrete beta schedule.

`BetaScheduler` builds betas / alphas / alphas_cumprod from the config. `SigmaScheduler` adds
the variance-exploding view of the k-diffusion samplers (Karras et al. 2022): a descending
`sigmas` tensor (one more than the timesteps, ending in 0), a step counter, and input scaling.

Per-call state lives in plain attributes that `set_timesteps` reassigns and `step` replaces
(never mutates in place), so `fork()` copies are independent.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch

from diffusekit.scheduling import SchedulerConfig, SchedulerMixin

from ._betas import TrainedBetas, alphas_cumprod, make_betas, rescale_zero_terminal_snr
from ._noise import add_noise_ve, add_noise_vp
from ._prediction import PredictionType
from ._sigmas import chosen_ramp, discrete_sigma_schedule
from ._spacing import TimestepSpacing, spaced_timesteps

DISCRETE_BETAS = ("discrete-betas",)

StandardBetaSchedule = Literal["linear", "scaled_linear", "squaredcos_cap_v2"]


class BetaConfig(SchedulerConfig):
    """Fields of every scheduler trained on a discrete beta schedule."""

    beta_start: float = 0.0001
    beta_end: float = 0.02
    beta_schedule: StandardBetaSchedule = "linear"
    trained_betas: TrainedBetas = None


class KDiffusionConfig(BetaConfig):
    """Fields shared by the k-diffusion samplers (LMS, Heun, KDPM2, KDPM2-ancestral)."""

    prediction_type: PredictionType = "epsilon"
    use_karras_sigmas: bool = False
    use_exponential_sigmas: bool = False
    use_beta_sigmas: bool = False
    timestep_spacing: TimestepSpacing = "linspace"
    steps_offset: int = 0


class StepCounter:
    """The step-index bookkeeping of schedulers that count their own steps.

    Each `step` looks up its position once (from `begin_index`, or by finding the timestep in
    the schedule) and then advances `_step_index`; `set_timesteps` resets both to None.
    """

    timesteps: torch.Tensor
    _step_index: int | None
    _begin_index: int | None

    @property
    def step_index(self) -> int | None:
        return self._step_index

    @property
    def begin_index(self) -> int | None:
        return self._begin_index

    def set_begin_index(self, begin_index: int = 0) -> None:
        """Start stepping at this index of the schedule (image-to-image starts midway)."""
        self._begin_index = begin_index

    def index_for_timestep(
        self, timestep: Any, schedule_timesteps: torch.Tensor | None = None
    ) -> int:
        """Position of `timestep` in the schedule; the second match when it occurs twice
        (second-order samplers repeat timesteps, and a fresh call starts on the repeat)."""
        schedule = self.timesteps if schedule_timesteps is None else schedule_timesteps
        if isinstance(timestep, torch.Tensor):
            timestep = timestep.to(schedule.device)
        hits = (schedule == timestep).nonzero()
        if len(hits) == 0:
            return self._index_of_absent_timestep(timestep)
        return int(hits[1 if len(hits) > 1 else 0])

    def _current_index(self, timestep: Any) -> int:
        if self._step_index is None:
            self._step_index = (
                self.index_for_timestep(timestep)
                if self._begin_index is None
                else self._begin_index
            )
        return self._step_index

    def _index_of_absent_timestep(self, timestep: Any) -> int:
        raise ValueError(f"timestep {timestep!r} is not in this scheduler's timesteps")


class BetaScheduler(SchedulerMixin):
    """A scheduler whose training noise is q(x_t | x_0) with the config's betas (DDPM, eq. 4)."""

    compatibility_families: ClassVar[tuple[str, ...]] = DISCRETE_BETAS
    clamp_terminal_alpha_bar: ClassVar[bool] = False
    """With zero-terminal-SNR betas, set the last alpha_bar to 2^-24 (not 0), as the reference
    does for samplers that divide by it (sigma = sqrt((1 - a) / a) must stay finite)."""

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        c = self.config
        betas = make_betas(
            c.num_train_timesteps, c.beta_start, c.beta_end, c.beta_schedule, c.trained_betas
        )
        if c.get("rescale_betas_zero_snr"):
            betas = rescale_zero_terminal_snr(betas)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = alphas_cumprod(betas)
        if c.get("rescale_betas_zero_snr") and self.clamp_terminal_alpha_bar:
            self.alphas_cumprod[-1] = 2**-24
        self.num_inference_steps: int | None = None
        self._tabulate_alphas()

    def _tabulate_alphas(self) -> None:
        """Host copies of alpha_bar, sqrt(alpha_bar), sqrt(1 - alpha_bar), computed in float32."""
        ac = self.alphas_cumprod
        self._alpha_bars: list[float] = ac.tolist()
        self._sqrt_alpha_bars: list[float] = (ac**0.5).tolist()
        self._sqrt_one_minus_alpha_bars: list[float] = ((1 - ac) ** 0.5).tolist()

    def vp_scales(self, t: int) -> tuple[float, float]:
        """(sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)); t < 0 means alpha_bar = 1."""
        if t < 0:
            return 1.0, 0.0
        return self._sqrt_alpha_bars[t], self._sqrt_one_minus_alpha_bars[t]

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        """The network sees x_t unscaled."""
        return sample

    def add_noise(
        self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        return add_noise_vp(self.alphas_cumprod, original_samples, noise, timesteps)

    def __len__(self) -> int:
        return int(self.config.num_train_timesteps)


class SigmaScheduler(StepCounter, BetaScheduler):
    """Base of the k-diffusion samplers: x = x0 + sigma eps, network input x / sqrt(sigma^2+1).

    Subclasses fill `timesteps` and `sigmas` in `set_timesteps` through `_set_schedule`.
    `step` advances `_step_index`; the first call finds the timestep in the schedule (or starts
    at `begin_index`, set by image-to-image pipelines through `set_begin_index`).
    """

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._step_index: int | None = None
        self._begin_index: int | None = None

    # ------------------------------------------------------------------ schedule

    def _set_schedule(
        self, timesteps: np.ndarray | torch.Tensor, sigmas: np.ndarray, device: Any
    ) -> None:
        """Store the schedule; `sigmas` has one entry per step plus the final one."""
        sig = torch.from_numpy(np.asarray(sigmas, dtype=np.float32)).to(dtype=torch.float32)
        self.sigmas = sig.to(device) if device is not None else sig
        ts = torch.as_tensor(
            np.asarray(timesteps, dtype=np.float32)
            if not isinstance(timesteps, torch.Tensor)
            else timesteps
        )
        self.timesteps = ts.to(device) if device is not None else ts
        self._sigma_values: list[float] = sig.tolist()
        self._input_divisors: list[float] = ((sig**2 + 1) ** 0.5).tolist()
        self._step_index = None
        self._begin_index = None

    def _spaced_schedule(
        self,
        num_inference_steps: int,
        num_train_timesteps: int | None = None,
        timesteps: list[float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(timesteps, sigmas without the final 0) from the config's spacing and sigma ramp."""
        c = self.config
        ramp = chosen_ramp(c)
        if timesteps is not None:
            if ramp is not None:
                raise ValueError(
                    f"set_timesteps: custom timesteps cannot be combined with use_{ramp}_sigmas"
                )
            steps = np.asarray(timesteps, dtype=np.float32)
        else:
            steps = spaced_timesteps(
                c.timestep_spacing,
                num_inference_steps,
                num_train_timesteps or c.num_train_timesteps,
                c.steps_offset,
                integer=False,
            )
        return discrete_sigma_schedule(self.alphas_cumprod, steps, ramp)

    @property
    def init_noise_sigma(self) -> float:
        """Std of the starting noise: sigma_max, or sqrt(sigma_max^2 + 1) for leading spacing."""
        top = max(self._sigma_values)
        if self.config.get("timestep_spacing") in ("linspace", "trailing"):
            return top
        return (top**2 + 1) ** 0.5

    # ------------------------------------------------------------------ model I/O

    def _input_divisor(self, index: int) -> float:
        return self._input_divisors[index]

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        """x / sqrt(sigma^2 + 1), the input the VP-trained network expects."""
        return sample / self._input_divisor(self._current_index(timestep))

    def add_noise(
        self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        """x0 + sigma(t) eps, with sigma looked up as in `step` (begin or current index)."""
        timesteps = torch.as_tensor(timesteps).reshape(-1)
        if self._begin_index is None:
            schedule = self.timesteps.to(original_samples.device)
            t = timesteps.to(original_samples.device)
            indices = [self.index_for_timestep(ti, schedule) for ti in t]
        elif self._step_index is not None:
            indices = [self._step_index] * timesteps.shape[0]
        else:
            indices = [self._begin_index] * timesteps.shape[0]
        return add_noise_ve(self.sigmas.cpu()[indices], original_samples, noise)


def timestep_int(timestep: Any) -> int:
    """A timestep given as int, float or 0-d tensor, as an int training timestep."""
    return int(timestep)


def output(prev_sample: torch.Tensor, x0: torch.Tensor | None, return_dict: bool) -> Any:
    from diffusekit.scheduling import SchedulerOutput

    if not return_dict:
        return (prev_sample,) if x0 is None else (prev_sample, x0)
    return SchedulerOutput(prev_sample=prev_sample, pred_original_sample=x0)
