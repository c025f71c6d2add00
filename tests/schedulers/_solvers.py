"""Helpers for the exponential-integrator solver tests: a toy model and exact integrals."""

from __future__ import annotations

from collections.abc import Callable

import torch


def toy_output(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return 0.8 * x * t.float() / (t.float() + 1) + 0.05


def run(scheduler, steps: int = 10, **set_timesteps) -> list[torch.Tensor]:
    scheduler.set_timesteps(steps, **set_timesteps)
    x = torch.linspace(-2, 2, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    samples = []
    for t in scheduler.timesteps:
        x = scheduler.step(toy_output(x, t), t, x).prev_sample
        samples.append(x)
    return samples


def simpson(f: Callable[[float], float], a: float, b: float, n: int = 2000) -> float:
    """Composite Simpson rule (n even)."""
    h = (b - a) / n
    total = f(a) + f(b)
    total += 4 * sum(f(a + (2 * k - 1) * h) for k in range(1, n // 2 + 1))
    total += 2 * sum(f(a + 2 * k * h) for k in range(1, n // 2))
    return total * h / 3
