"""Normalization layers and group-count helpers shared by the U-Nets and autoencoders."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .conv import Conv2d


def default_groups(channels: int) -> int:
    """Group count used where a config leaves it unset: min(channels // 4, 32)."""
    return min(channels // 4, 32)


class GroupNorm(nn.GroupNorm):
    """:class:`torch.nn.GroupNorm`, calling the kernel without the functional wrapper's checks.

    ``F.group_norm`` rebuilds the input's shape as a Python list to rule out groups of a single
    value on every call; on the small maps of a denoising step that costs more than the norm
    itself (two norms per ResNet block, one per transformer). The check is kept where it can
    fail.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() < 2 or input.numel() <= self.num_groups:
            return super().forward(input)
        return torch.group_norm(
            input, self.num_groups, self.weight, self.bias, self.eps, torch.backends.cudnn.enabled
        )


class SpatialNorm(nn.Module):
    """Group norm whose scale and shift are 1x1 projections of a conditioning map.

    MoVQ (Zheng et al., "MoVQ: Modulating Quantized Vectors for High-Fidelity Image
    Generation", 2022): the decoder's norms are modulated by the quantized latents `zq`,
    resized (nearest) to the feature map.
    """

    def __init__(self, f_channels: int, zq_channels: int) -> None:
        super().__init__()
        self.norm_layer = GroupNorm(num_channels=f_channels, num_groups=32, eps=1e-6)
        self.conv_y = Conv2d(zq_channels, f_channels, kernel_size=1)
        self.conv_b = Conv2d(zq_channels, f_channels, kernel_size=1)

    def forward(self, f: torch.Tensor, zq: torch.Tensor) -> torch.Tensor:
        zq = F.interpolate(zq, size=f.shape[-2:], mode="nearest")
        return self.norm_layer(f) * self.conv_y(zq) + self.conv_b(zq)


__all__ = ["GroupNorm", "SpatialNorm", "default_groups"]
