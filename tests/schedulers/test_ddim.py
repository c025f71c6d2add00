"""DDIM-specific behaviour beyond the shared conformance checks."""

from __future__ import annotations

import pytest
import torch
from diffusekit_schedulers import DDIMScheduler


def test_eta_beyond_the_schedule_is_a_clear_error():
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(10)
    sample = torch.randn(1, 3, 4, 4)
    t = scheduler.timesteps[0]
    scheduler.step(sample, t, sample, eta=1.0, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"eta=5.0 asks for more noise at timestep 900"):
        scheduler.step(sample, t, sample, eta=5.0, generator=torch.Generator().manual_seed(0))
