"""Turning the `timestep` argument of a denoiser into a 1D tensor on the sample's device."""

from __future__ import annotations

import torch


def timestep_tensor(timestep: torch.Tensor | float | int, sample: torch.Tensor) -> torch.Tensor:
    """A 1D tensor of timesteps: Python ints become int64, Python floats stay float32.

    (The reference casts Python floats to int64, so ``0.5`` became ``0``; a float noise level
    is kept as it is here.)
    """
    if not torch.is_tensor(timestep):
        dtype = torch.int64 if isinstance(timestep, int) else torch.float32
        return torch.tensor([timestep], dtype=dtype, device=sample.device)
    if timestep.ndim == 0:
        return timestep[None].to(sample.device)
    return timestep


def batch_timesteps(timesteps: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Broadcast one timestep (or one per sample) to the batch, keeping the dtype."""
    return timesteps * torch.ones(batch_size, dtype=timesteps.dtype, device=timesteps.device)
