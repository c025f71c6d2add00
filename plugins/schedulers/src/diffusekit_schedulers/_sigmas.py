"""Noise levels of variance-exploding samplers (Karras et al. 2022, "Elucidating the Design
Space of Diffusion-Based Generative Models", section 2): sigma = sqrt((1 - alpha_bar) / alpha_bar).

Discrete-time networks are conditioned on a timestep, so sigma and t convert into each other
by piecewise-linear interpolation in log-sigma over the training schedule (as in k-diffusion).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

SigmaRamp = Literal["karras", "exponential", "beta"]


def sigmas_from_alphas_cumprod(alphas_cumprod: torch.Tensor) -> np.ndarray:
    """Ascending float32 sigmas of the training schedule, one per training timestep."""
    return (((1 - alphas_cumprod) / alphas_cumprod) ** 0.5).cpu().numpy()


def interpolate_sigmas(timesteps: np.ndarray, train_sigmas: np.ndarray) -> np.ndarray:
    """sigma(t) for fractional t, linear between training timesteps."""
    return np.interp(timesteps, np.arange(len(train_sigmas)), train_sigmas)


def sigma_to_t(sigmas: np.ndarray, log_train_sigmas: np.ndarray) -> np.ndarray:
    """Fractional training timesteps of `sigmas`, linear in log-sigma between neighbours."""
    sigmas = np.asarray(sigmas)
    log_sigma = np.log(np.maximum(sigmas, 1e-10)).reshape(-1)
    above = log_sigma[None, :] - log_train_sigmas[:, None] >= 0
    low = np.cumsum(above, axis=0).argmax(axis=0).clip(max=len(log_train_sigmas) - 2)
    log_low, log_high = log_train_sigmas[low], log_train_sigmas[low + 1]
    weight = np.clip((log_low - log_sigma) / (log_low - log_high), 0, 1)
    return ((1 - weight) * low + weight * (low + 1)).reshape(sigmas.shape)


def karras_sigmas(sigma_min: float, sigma_max: float, n: int, rho: float = 7.0) -> np.ndarray:
    """Karras et al. 2022, eq. 5: (max^(1/rho) + i/(n-1) (min^(1/rho) - max^(1/rho)))^rho."""
    ramp = np.linspace(0, 1, n)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def exponential_sigmas(sigma_min: float, sigma_max: float, n: int) -> np.ndarray:
    """Evenly spaced in log-sigma, from sigma_max down to sigma_min."""
    return np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), n))


def beta_sigmas(
    sigma_min: float, sigma_max: float, n: int, alpha: float = 0.6, beta: float = 0.6
) -> np.ndarray:
    """Lee et al. 2024, "Beta Sampling is All You Need": sigmas at Beta(alpha, beta) quantiles."""
    try:
        from scipy import stats
    except ImportError as exc:
        raise ImportError("use_beta_sigmas needs scipy: pip install scipy") from exc
    quantiles = stats.beta.ppf(1 - np.linspace(0, 1, n), alpha, beta)
    return np.array([sigma_min + q * (sigma_max - sigma_min) for q in quantiles])


def ramp_sigmas(
    kind: str, in_sigmas: np.ndarray, n: int, sigma_min: float | None, sigma_max: float | None
) -> np.ndarray:
    """Re-space `in_sigmas` (descending) with the named ramp between its ends (or the overrides)."""
    lo = float(in_sigmas[-1]) if sigma_min is None else sigma_min
    hi = float(in_sigmas[0]) if sigma_max is None else sigma_max
    if kind == "karras":
        return karras_sigmas(lo, hi, n)
    if kind == "exponential":
        return exponential_sigmas(lo, hi, n)
    if kind == "beta":
        return beta_sigmas(lo, hi, n)
    raise ValueError(f"sigma ramp: expected 'karras', 'exponential' or 'beta', found {kind!r}")


def chosen_ramp(config: dict) -> str | None:
    """The ramp a config's use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas picks."""
    flags = {
        "karras": config.get("use_karras_sigmas"),
        "exponential": config.get("use_exponential_sigmas"),
        "beta": config.get("use_beta_sigmas"),
    }
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise ValueError(
            "config: only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas "
            f"may be true, found {chosen}"
        )
    return chosen[0] if chosen else None


def discrete_sigma_schedule(
    alphas_cumprod: torch.Tensor,
    timesteps: np.ndarray,
    ramp: str | None = None,
    sigma_min: float | None = None,
    sigma_max: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(timesteps, sigmas) of an inference schedule, without the final sigma.

    Sigmas are read off the training schedule at `timesteps`; a ramp (Karras, exponential,
    beta) re-spaces them between the same ends and moves the timesteps to match.
    """
    train = sigmas_from_alphas_cumprod(alphas_cumprod)
    sigmas = interpolate_sigmas(timesteps, train)
    if ramp is not None:
        sigmas = ramp_sigmas(ramp, sigmas, len(timesteps), sigma_min, sigma_max)
        timesteps = sigma_to_t(sigmas, np.log(train))
    return timesteps, sigmas


def interleave_pairs(values: torch.Tensor, repeat_last: bool = False) -> torch.Tensor:
    """[v0, v1, ..., v(n-1), vn] -> [v0, v1, v1, ..., v(n-1), v(n-1), vn].

    Second-order samplers evaluate the network twice per step and list inner values twice;
    `repeat_last` also doubles vn (then followed by vn once more).
    """
    inner = values[1:] if repeat_last else values[1:-1]
    return torch.cat([values[:1], inner.repeat_interleave(2), values[-1:]])
