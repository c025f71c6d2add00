"""Blocks of Dance Diffusion's 1D U-Net (audio waveforms).

The layout follows Harmonai's Dance Diffusion (a v-diffusion U-Net by K. Crowson): residual
convolution blocks with group norm and GELU, multi-head self-attention over time, and fixed
anti-aliasing filters for resampling by 2. Names of blocks and weights are the reference's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ._dropout import apply_layer
from .normalization import GroupNorm

ResampleKernel = Literal["linear", "cubic", "lanczos3"]

#: Down block types of this family (DownBlock1DNoSkip concatenates the time features).
DANCE_DOWN_BLOCKS = ("DownBlock1DNoSkip", "DownBlock1D", "AttnDownBlock1D")
DANCE_UP_BLOCKS = ("AttnUpBlock1D", "UpBlock1D", "UpBlock1DNoSkip")


def _keys_cubic(x: float, a: float = -0.5) -> float:
    """Keys' cubic convolution kernel (Keys, 1981) with the usual a = -1/2."""
    x = abs(x)
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


def _sinc(x: float) -> float:
    return 1.0 if x == 0 else math.sin(math.pi * x) / (math.pi * x)


def _lanczos3(x: float) -> float:
    return _sinc(x) * _sinc(x / 3) if abs(x) < 3 else 0.0


def _linear(x: float) -> float:
    return max(0.0, 1 - abs(x))


_KERNEL_FUNCTIONS: dict[str, tuple[Callable[[float], float], int]] = {
    "linear": (_linear, 1),
    "cubic": (_keys_cubic, 2),
    "lanczos3": (_lanczos3, 3),
}


def resample_kernel(name: ResampleKernel) -> torch.Tensor:
    """Taps of a half-band filter: the interpolation kernel sampled at odd quarter offsets.

    Downsampling by 2 with it is interpolation at the midpoints between input samples; the taps
    are normalized to sum to one.
    """
    function, support = _KERNEL_FUNCTIONS[name]
    offsets = [(2 * i + 1) / 4 for i in range(-2 * support, 2 * support)]
    taps = torch.tensor([function(x) for x in offsets], dtype=torch.float64)
    return (taps / taps.sum()).to(torch.float32)


def _depthwise(kernel: torch.Tensor, channels: int, like: torch.Tensor) -> torch.Tensor:
    return kernel.to(like)[None, None, :].expand(channels, 1, -1)


class Downsample1d(nn.Module):
    """Halves the length: reflect padding, then the filter with stride 2 on each channel."""

    def __init__(self, kernel: ResampleKernel = "linear", pad_mode: str = "reflect") -> None:
        super().__init__()
        self.pad_mode = pad_mode
        taps = resample_kernel(kernel)
        self.pad = taps.shape[0] // 2 - 1
        self.register_buffer("kernel", taps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        channels = hidden_states.shape[1]
        hidden_states = F.pad(hidden_states, (self.pad, self.pad), self.pad_mode)
        weight = _depthwise(self.kernel, channels, hidden_states)
        return F.conv1d(hidden_states, weight, stride=2, groups=channels)


class Upsample1d(nn.Module):
    """Doubles the length: transposed filtering with stride 2 (the buffer holds 2x the taps)."""

    def __init__(self, kernel: ResampleKernel = "linear", pad_mode: str = "reflect") -> None:
        super().__init__()
        self.pad_mode = pad_mode
        taps = resample_kernel(kernel) * 2
        self.pad = taps.shape[0] // 2 - 1
        self.register_buffer("kernel", taps)

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> torch.Tensor:
        channels = hidden_states.shape[1]
        edge = (self.pad + 1) // 2
        hidden_states = F.pad(hidden_states, (edge, edge), self.pad_mode)
        weight = _depthwise(self.kernel, channels, hidden_states)
        return F.conv_transpose1d(
            hidden_states, weight, stride=2, padding=self.pad * 2 + 1, groups=channels
        )


class SelfAttention1d(nn.Module):
    """Pre-norm multi-head self-attention over the time axis, with a residual connection."""

    def __init__(self, in_channels: int, n_head: int = 1, dropout_rate: float = 0.0) -> None:
        super().__init__()
        if n_head < 1 or in_channels % n_head:
            raise ValueError(
                f"SelfAttention1d: {in_channels} channels cannot be split into {n_head} heads "
                "(Dance Diffusion blocks use channels // 32 heads: attention blocks need "
                "at least 32 channels)"
            )
        self.channels = in_channels
        self.num_heads = n_head
        self.group_norm = GroupNorm(1, num_channels=in_channels)
        self.query = nn.Linear(in_channels, in_channels)
        self.key = nn.Linear(in_channels, in_channels)
        self.value = nn.Linear(in_channels, in_channels)
        self.proj_attn = nn.Linear(in_channels, in_channels, bias=True)
        self.dropout = nn.Dropout(dropout_rate)

    def _heads(self, projection: torch.Tensor) -> torch.Tensor:
        batch, length, _ = projection.shape
        return projection.view(batch, length, self.num_heads, -1).transpose(1, 2)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        tokens = self.group_norm(hidden_states).transpose(1, 2)
        attended = F.scaled_dot_product_attention(
            self._heads(self.query(tokens)),
            self._heads(self.key(tokens)),
            self._heads(self.value(tokens)),
        )
        attended = attended.transpose(1, 2).flatten(2)
        out = self.proj_attn(attended).transpose(1, 2)
        return apply_layer(self.dropout, out) + hidden_states


class ResConvBlock(nn.Module):
    """Two 5-tap convolutions with group norm and GELU, plus a (1x1 projected) skip."""

    def __init__(
        self, in_channels: int, mid_channels: int, out_channels: int, is_last: bool = False
    ) -> None:
        super().__init__()
        self.is_last = is_last
        self.has_conv_skip = in_channels != out_channels
        if self.has_conv_skip:
            self.conv_skip = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.conv_1 = nn.Conv1d(in_channels, mid_channels, 5, padding=2)
        self.group_norm_1 = GroupNorm(1, mid_channels)
        self.gelu_1 = nn.GELU()
        self.conv_2 = nn.Conv1d(mid_channels, out_channels, 5, padding=2)
        if not is_last:
            self.group_norm_2 = GroupNorm(1, out_channels)
            self.gelu_2 = nn.GELU()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = self.conv_skip(hidden_states) if self.has_conv_skip else hidden_states
        hidden_states = self.gelu_1(self.group_norm_1(self.conv_1(hidden_states)))
        hidden_states = self.conv_2(hidden_states)
        if not self.is_last:
            hidden_states = self.gelu_2(self.group_norm_2(hidden_states))
        return hidden_states + residual


def _res_stack(
    in_channels: int, mid_channels: int, out_channels: int, count: int, last_is_final: bool = False
) -> nn.ModuleList:
    """`count` ResConvBlocks: in -> mid, mid -> mid ..., mid -> out."""
    blocks = []
    for i in range(count):
        first, last = i == 0, i == count - 1
        blocks.append(
            ResConvBlock(
                in_channels if first else mid_channels,
                mid_channels,
                out_channels if last else mid_channels,
                is_last=last and last_is_final,
            )
        )
    return nn.ModuleList(blocks)


def _attention_stack(mid_channels: int, out_channels: int, count: int) -> nn.ModuleList:
    widths = [mid_channels] * (count - 1) + [out_channels]
    return nn.ModuleList(SelfAttention1d(width, width // 32) for width in widths)


def _run(
    hidden_states: torch.Tensor, resnets: nn.ModuleList, attentions: nn.ModuleList | None
) -> torch.Tensor:
    for i, resnet in enumerate(resnets):
        hidden_states = resnet(hidden_states)
        if attentions is not None:
            hidden_states = attentions[i](hidden_states)
    return hidden_states


class _DanceDownBlock(nn.Module):
    """Optional cubic downsampling, then three residual blocks (with attention if asked)."""

    downsample: bool = True
    attend: bool = False
    concat_time: bool = False

    def __init__(self, out_channels: int, in_channels: int, mid_channels: int | None = None):
        super().__init__()
        mid_channels = out_channels if mid_channels is None else mid_channels
        if self.downsample:
            self.down = Downsample1d("cubic")
        self.resnets = _res_stack(in_channels, mid_channels, out_channels, 3)
        if self.attend:
            self.attentions = _attention_stack(mid_channels, out_channels, 3)

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        if self.downsample:
            hidden_states = self.down(hidden_states)
        if self.concat_time:
            if temb is None:
                raise ValueError(f"{type(self).__name__} needs the time features (temb)")
            hidden_states = torch.cat([hidden_states, temb], dim=1)
        hidden_states = _run(hidden_states, self.resnets, getattr(self, "attentions", None))
        return hidden_states, (hidden_states,)


class DownBlock1D(_DanceDownBlock):
    pass


class AttnDownBlock1D(_DanceDownBlock):
    attend = True


class DownBlock1DNoSkip(_DanceDownBlock):
    """The first block: no downsampling; the time features are concatenated as channels."""

    downsample = False
    concat_time = True


class _DanceUpBlock(nn.Module):
    """Concatenate the skip, three residual blocks (with attention if asked), cubic upsampling."""

    upsample: bool = True
    attend: bool = False
    default_mid_is_out: bool = False

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None):
        super().__init__()
        if mid_channels is None:
            mid_channels = out_channels if self.default_mid_is_out else in_channels
        self.resnets = _res_stack(
            2 * in_channels, mid_channels, out_channels, 3, last_is_final=not self.upsample
        )
        if self.attend:
            self.attentions = _attention_stack(mid_channels, out_channels, 3)
        if self.upsample:
            self.up = Upsample1d(kernel="cubic")

    def forward(
        self,
        hidden_states: torch.Tensor,
        res_hidden_states_tuple: tuple[torch.Tensor, ...],
        temb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        hidden_states = torch.cat([hidden_states, res_hidden_states_tuple[-1]], dim=1)
        hidden_states = _run(hidden_states, self.resnets, getattr(self, "attentions", None))
        if self.upsample:
            hidden_states = self.up(hidden_states)
        return hidden_states


class AttnUpBlock1D(_DanceUpBlock):
    attend = True
    default_mid_is_out = True


class UpBlock1D(_DanceUpBlock):
    pass


class UpBlock1DNoSkip(_DanceUpBlock):
    """The last block: no upsampling, and the final residual block ends without norm/GELU."""

    upsample = False


class UNetMidBlock1D(nn.Module):
    """Down by 2, six residual + attention layers, up by 2."""

    def __init__(self, mid_channels: int, in_channels: int, out_channels: int | None = None):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.down = Downsample1d("cubic")
        self.resnets = _res_stack(in_channels, mid_channels, out_channels, 6)
        self.attentions = _attention_stack(mid_channels, out_channels, 6)
        self.up = Upsample1d(kernel="cubic")

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> torch.Tensor:
        hidden_states = self.down(hidden_states)
        hidden_states = _run(hidden_states, self.resnets, self.attentions)
        return self.up(hidden_states)
