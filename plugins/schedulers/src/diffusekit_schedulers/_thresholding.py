"""Keeping predicted x0 inside the data range."""

from __future__ import annotations

import torch


def dynamic_threshold(x0: torch.Tensor, ratio: float, max_value: float) -> torch.Tensor:
    """Imagen's dynamic thresholding (Saharia et al. 2022, section 2.3).

    Per sample, s = the `ratio` quantile of |x0| clamped to [1, max_value]; x0 is clipped
    to [-s, s] and divided by s.
    """
    dtype = x0.dtype
    batch, channels, *rest = x0.shape
    work = x0 if dtype in (torch.float32, torch.float64) else x0.float()
    flat = work.reshape(batch, -1)
    s = torch.quantile(flat.abs(), ratio, dim=1).clamp(min=1, max=max_value).unsqueeze(1)
    flat = torch.clamp(flat, -s, s) / s
    return flat.reshape(batch, channels, *rest).to(dtype)


def clip_or_threshold(x0: torch.Tensor, config: dict) -> torch.Tensor:
    """Apply the config's `thresholding` first, else its `clip_sample`, else nothing."""
    if config.get("thresholding"):
        return dynamic_threshold(
            x0, config["dynamic_thresholding_ratio"], config["sample_max_value"]
        )
    if config.get("clip_sample"):
        limit = config["clip_sample_range"]
        return x0.clamp(-limit, limit)
    return x0
