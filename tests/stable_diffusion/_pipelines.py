"""Shared helpers for the Stable Diffusion pipeline tests (tiny components, seeds, threads)."""

from __future__ import annotations

from typing import Any

import torch
from diffusekit_stable_diffusion import tiny

STEPS = 2


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def build(cls: type, kind: tiny.Kind = "sd1", **overrides: Any) -> Any:
    pipe = cls(**{**tiny.components(kind), **overrides})
    pipe.set_progress_bar_config(disable=True)
    return pipe


def image(seed: int = 1, size: int = 16) -> torch.Tensor:
    """A random RGB image batch (1, 3, size, size) in [0, 1]."""
    return torch.rand(1, 3, size, size, generator=seeded(seed))


def mask(size: int = 16, value: float = 1.0) -> torch.Tensor:
    """A mask (1, 1, size, size) that is `value` in a central square and 0 elsewhere."""
    m = torch.zeros(1, 1, size, size)
    m[..., size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = value
    return m


def one_thread() -> Any:
    """Generator for a fixture: tiny models run far faster on one thread on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
