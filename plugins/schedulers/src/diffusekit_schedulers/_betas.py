"""Training noise schedules: betas, their cumulative alphas, and the zero-terminal-SNR rescale."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import BeforeValidator

BetaSchedule = Literal["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", "laplace", "exp"]
"""Every schedule `make_betas` knows; each scheduler's config narrows this to what it accepts."""


def _as_float_list(value: Any) -> Any:
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().flatten().tolist()
    if isinstance(value, (np.ndarray, tuple)):
        return np.asarray(value, dtype=np.float64).flatten().tolist()
    return value


TrainedBetas = Annotated[list[float] | None, BeforeValidator(_as_float_list)]
"""Config type of `trained_betas`: lists, tuples, numpy arrays and tensors are stored as a list."""


def _cosine_alpha_bar(t: float) -> float:
    """Improved DDPM (Nichol & Dhariwal 2021), eq. 17 with s = 0.008."""
    return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2


def _laplace_alpha_bar(t: float) -> float:
    log_snr = -0.5 * math.copysign(1, 0.5 - t) * math.log(1 - 2 * math.fabs(0.5 - t) + 1e-6)
    snr = math.exp(log_snr)
    return math.sqrt(snr / (1 + snr))


def _exp_alpha_bar(t: float) -> float:
    return math.exp(-12.0 * t)


ALPHA_BAR_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "cosine": _cosine_alpha_bar,
    "laplace": _laplace_alpha_bar,
    "exp": _exp_alpha_bar,
}


def betas_for_alpha_bar(
    num_train_timesteps: int, alpha_bar: Callable[[float], float], max_beta: float = 0.999
) -> torch.Tensor:
    """Discretise alpha_bar(t), t in [0, 1]: beta_i = 1 - alpha_bar(t_{i+1}) / alpha_bar(t_i)."""
    n = num_train_timesteps
    betas = [min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), max_beta) for i in range(n)]
    return torch.tensor(betas, dtype=torch.float32)


def make_betas(
    num_train_timesteps: int,
    beta_start: float,
    beta_end: float,
    beta_schedule: str,
    trained_betas: list[float] | None = None,
) -> torch.Tensor:
    """The float32 betas of a schedule (or the trained ones, which win when given)."""
    n = num_train_timesteps
    if trained_betas is not None:
        return torch.tensor(trained_betas, dtype=torch.float32)
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, n, dtype=torch.float32)
    if beta_schedule == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=torch.float32) ** 2
    if beta_schedule == "squaredcos_cap_v2":
        return betas_for_alpha_bar(n, _cosine_alpha_bar)
    if beta_schedule in ("laplace", "exp"):
        return betas_for_alpha_bar(n, ALPHA_BAR_FUNCTIONS[beta_schedule])
    if beta_schedule == "sigmoid":
        return torch.sigmoid(torch.linspace(-6, 6, n)) * (beta_end - beta_start) + beta_start
    raise ValueError(
        f"beta_schedule: expected one of {list(BetaSchedule.__args__)}, found {beta_schedule!r}"
    )


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Alg. 1.

    Shift sqrt(alpha_bar) so the last value is 0 and scale it so the first is unchanged.
    """
    sqrt_ab = torch.cumprod(1.0 - betas, dim=0).sqrt()
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    sqrt_ab = (sqrt_ab - last) * (first / (first - last))
    alpha_bar = sqrt_ab**2
    alphas = torch.cat([alpha_bar[:1], alpha_bar[1:] / alpha_bar[:-1]])
    return 1 - alphas


def alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    """alpha_bar_t = prod_{s<=t} (1 - beta_s)."""
    return torch.cumprod(1.0 - betas, dim=0)
