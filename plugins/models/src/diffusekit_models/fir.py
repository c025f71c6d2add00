"""FIR-filtered resampling by an integer factor (upfirdn).

Upsample by zero insertion, filter with a separable FIR kernel, downsample by striding: the
`upfirdn2d` operation of Karras et al., "Analyzing and Improving the Image Quality of StyleGAN"
(2020), which Song et al. use in NCSN++ ("Score-Based Generative Modeling through Stochastic
Differential Equations", 2021) with the binomial kernel (1, 3, 3, 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_FIR_KERNEL = (1, 3, 3, 1)


def _kernel_2d(kernel: Sequence[float], gain: float, like: torch.Tensor) -> torch.Tensor:
    taps = torch.tensor(kernel, dtype=torch.float32)
    taps = torch.outer(taps, taps) if taps.ndim == 1 else taps
    return (taps / taps.sum() * gain).to(device=like.device, dtype=like.dtype)


def upfirdn2d(
    x: torch.Tensor,
    kernel: torch.Tensor,
    up: int = 1,
    down: int = 1,
    pad: tuple[int, int] = (0, 0),
) -> torch.Tensor:
    """Zero-insert by `up`, pad (before, after) on both axes, filter each channel, stride `down`."""
    batch, channels, height, width = x.shape
    if up > 1:
        spread = x.new_zeros(batch, channels, height * up, width * up)
        spread[:, :, ::up, ::up] = x
        x = spread
    before, after = pad
    x = F.pad(x, (before, after, before, after))
    weight = kernel.flip(0, 1)[None, None].expand(channels, 1, -1, -1)
    return F.conv2d(x, weight, stride=down, groups=channels)


def fir_upsample_2d(
    x: torch.Tensor,
    kernel: Sequence[float] = DEFAULT_FIR_KERNEL,
    factor: int = 2,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by `factor`; constant images keep their value times `gain`."""
    taps = _kernel_2d(kernel, gain * factor**2, x)
    excess = taps.shape[0] - factor
    return upfirdn2d(x, taps, up=factor, pad=((excess + 1) // 2 + factor - 1, excess // 2))


def fir_downsample_2d(
    x: torch.Tensor,
    kernel: Sequence[float] = DEFAULT_FIR_KERNEL,
    factor: int = 2,
    gain: float = 1.0,
) -> torch.Tensor:
    """Low-pass filter, then keep every `factor`-th pixel."""
    taps = _kernel_2d(kernel, gain, x)
    excess = taps.shape[0] - factor
    return upfirdn2d(x, taps, down=factor, pad=((excess + 1) // 2, excess // 2))


class FirUpsample2D(nn.Module):
    """Parameter-free FIR upsampling by 2 (the form NCSN++'s skip path uses)."""

    def __init__(
        self,
        channels: int | None = None,
        out_channels: int | None = None,
        fir_kernel: Sequence[float] = DEFAULT_FIR_KERNEL,
    ) -> None:
        super().__init__()
        self.fir_kernel = tuple(fir_kernel)
        self.out_channels = out_channels or channels

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return fir_upsample_2d(hidden_states, self.fir_kernel)


class FirDownsample2D(nn.Module):
    """Parameter-free FIR downsampling by 2 (the form NCSN++'s skip path uses)."""

    def __init__(
        self,
        channels: int | None = None,
        out_channels: int | None = None,
        fir_kernel: Sequence[float] = DEFAULT_FIR_KERNEL,
    ) -> None:
        super().__init__()
        self.fir_kernel = tuple(fir_kernel)
        self.out_channels = out_channels or channels

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return fir_downsample_2d(hidden_states, self.fir_kernel)
