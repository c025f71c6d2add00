"""Residual blocks and 2x resampling layers of the image U-Nets and autoencoders.

He et al., "Deep Residual Learning for Image Recognition" (2016), in the pre-activation form
(GroupNorm -> SiLU -> conv) with an added time embedding, as in Ho et al., "Denoising Diffusion
Probabilistic Models" (2020). ``time_embedding_norm="scale_shift"`` is the FiLM-style
conditioning of Dhariwal & Nichol, "Diffusion Models Beat GANs on Image Synthesis" (2021).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ._activation import activate_scratch, activation
from ._dropout import apply_layer
from .conv import Conv2d
from .normalization import GroupNorm, SpatialNorm
from .upsampling import upsample_nearest_2x

ResampleKernel = Literal["fir", "sde_vp"] | None


class Upsample2D(nn.Module):
    """Nearest-neighbour 2x upsampling, then an optional 3x3 conv (or a transposed conv)."""

    def __init__(
        self,
        channels: int,
        use_conv: bool = False,
        use_conv_transpose: bool = False,
        out_channels: int | None = None,
        name: str = "conv",
        kernel_size: int | None = None,
        padding: int = 1,
        bias: bool = True,
        interpolate: bool = True,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.use_conv_transpose = use_conv_transpose
        self.interpolate = interpolate
        conv: nn.Module | None = None
        if use_conv_transpose:
            conv = nn.ConvTranspose2d(
                channels, self.out_channels, kernel_size or 4, stride=2, padding=padding, bias=bias
            )
        elif use_conv:
            conv = Conv2d(channels, self.out_channels, kernel_size or 3, padding=padding, bias=bias)
        # Checkpoints name the conv after `name` ("conv", or "Conv2d_0" in NCSN++ ports).
        self.conv_name = "conv" if name == "conv" else "Conv2d_0"
        setattr(self, self.conv_name, conv)

    def forward(
        self, hidden_states: torch.Tensor, output_size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        conv = getattr(self, self.conv_name)
        if self.use_conv_transpose:
            return conv(hidden_states)
        if self.interpolate:
            hidden_states = upsample_nearest_2x(hidden_states, output_size)
        return conv(hidden_states) if conv is not None else hidden_states


class Downsample2D(nn.Module):
    """2x downsampling: a stride-2 3x3 conv, or 2x2 average pooling without `use_conv`.

    ``padding=0`` pads one pixel on the right and bottom only (the latent-diffusion VAE).
    """

    def __init__(
        self,
        channels: int,
        use_conv: bool = False,
        out_channels: int | None = None,
        padding: int = 1,
        name: str = "conv",
        kernel_size: int = 3,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.out_channels = out_channels or channels
        self.use_conv = use_conv
        self.padding = padding
        if use_conv:
            self.conv: nn.Module = Conv2d(
                channels, self.out_channels, kernel_size, stride=2, padding=padding, bias=bias
            )
        else:
            if self.out_channels != channels:
                raise ValueError(
                    f"Downsample2D: pooling keeps the channel count, but out_channels="
                    f"{out_channels} != channels={channels}"
                )
            self.conv = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.use_conv and self.padding == 0:
            hidden_states = F.pad(hidden_states, (0, 1, 0, 1))
        return self.conv(hidden_states)


def _resampler(up: bool, down: bool, kernel: ResampleKernel, channels: int) -> Callable | None:
    if kernel == "fir":
        from .fir import fir_downsample_2d, fir_upsample_2d
    if up:
        if kernel == "fir":
            return fir_upsample_2d
        if kernel == "sde_vp":
            return upsample_nearest_2x
        return Upsample2D(channels, use_conv=False)
    if down:
        if kernel == "fir":
            return fir_downsample_2d
        if kernel == "sde_vp":
            return partial(F.avg_pool2d, kernel_size=2, stride=2)
        return Downsample2D(channels, use_conv=False, padding=1)
    return None


class ResnetBlock2D(nn.Module):
    """norm1 -> act -> conv1 (+ time) -> norm2 -> act -> dropout -> conv2, plus a shortcut.

    The time embedding is added after conv1 (``"default"``) or applied as
    ``norm2(h) * (1 + scale) + shift`` (``"scale_shift"``). With `up`/`down` both branches are
    resampled after the first activation (BigGAN-style, Brock et al. 2019).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int | None = None,
        conv_shortcut: bool = False,  # accepted for signature parity; unused, as in checkpoints
        dropout: float = 0.0,
        temb_channels: int | None = 512,
        groups: int = 32,
        groups_out: int | None = None,
        pre_norm: bool = True,
        eps: float = 1e-6,
        non_linearity: str = "swish",
        skip_time_act: bool = False,
        time_embedding_norm: Literal["default", "scale_shift"] = "default",
        kernel: ResampleKernel = None,
        output_scale_factor: float = 1.0,
        use_in_shortcut: bool | None = None,
        up: bool = False,
        down: bool = False,
        conv_shortcut_bias: bool = True,
        conv_2d_out_channels: int | None = None,
    ) -> None:
        super().__init__()
        if time_embedding_norm not in ("default", "scale_shift"):
            raise ValueError(
                f"ResnetBlock2D: time_embedding_norm must be 'default' or 'scale_shift', found "
                f"{time_embedding_norm!r} (use ResnetBlockCondNorm2D for 'spatial')"
            )
        out_channels = out_channels or in_channels
        conv_out = conv_2d_out_channels or out_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.output_scale_factor = output_scale_factor
        self.time_embedding_norm = time_embedding_norm
        self.skip_time_act = skip_time_act

        self.norm1 = GroupNorm(num_groups=groups, num_channels=in_channels, eps=eps)
        self.conv1 = Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.time_emb_proj: nn.Linear | None = None
        if temb_channels is not None:
            width = out_channels * (2 if time_embedding_norm == "scale_shift" else 1)
            self.time_emb_proj = nn.Linear(temb_channels, width)
        self.norm2 = GroupNorm(num_groups=groups_out or groups, num_channels=out_channels, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = Conv2d(out_channels, conv_out, kernel_size=3, padding=1)
        self.nonlinearity = activation(non_linearity)
        resample = _resampler(up, down, kernel, in_channels)
        self.upsample = resample if up else None
        self.downsample = resample if down else None
        if use_in_shortcut is None:
            use_in_shortcut = in_channels != conv_out
        self.conv_shortcut: Conv2d | None = None
        if use_in_shortcut:
            self.conv_shortcut = Conv2d(
                in_channels, conv_out, kernel_size=1, bias=conv_shortcut_bias
            )

    def forward(self, input_tensor: torch.Tensor, temb: torch.Tensor | None) -> torch.Tensor:
        hidden_states = activate_scratch(self.nonlinearity, self.norm1(input_tensor))
        resample = self.upsample or self.downsample
        if resample is not None:
            input_tensor = resample(input_tensor)
            hidden_states = resample(hidden_states)
        hidden_states = self.conv1(hidden_states)

        if self.time_emb_proj is not None and temb is not None:
            if not self.skip_time_act:
                temb = self.nonlinearity(temb)
            temb = self.time_emb_proj(temb)[:, :, None, None]
        if self.time_embedding_norm == "scale_shift":
            if temb is None:
                raise ValueError("ResnetBlock2D: 'scale_shift' conditioning needs a temb")
            scale, shift = temb.chunk(2, dim=1)
            hidden_states = torch.addcmul(shift, self.norm2(hidden_states), 1 + scale)
        else:
            if temb is not None:
                hidden_states = hidden_states.add_(temb)
            hidden_states = self.norm2(hidden_states)

        hidden_states = activate_scratch(self.nonlinearity, hidden_states)
        hidden_states = self.conv2(apply_layer(self.dropout, hidden_states))
        if self.conv_shortcut is not None:
            input_tensor = self.conv_shortcut(input_tensor)
        output = hidden_states.add_(input_tensor)
        if self.output_scale_factor != 1.0:
            output = output.div_(self.output_scale_factor)
        return output


class ResnetBlockCondNorm2D(nn.Module):
    """A residual block whose two norms are `SpatialNorm`s conditioned on `temb` (a latent map).

    Used by the MoVQ decoder (``norm_type="spatial"``); there is no time projection.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int | None = None,
        dropout: float = 0.0,
        temb_channels: int = 512,
        non_linearity: str = "swish",
        output_scale_factor: float = 1.0,
        use_in_shortcut: bool | None = None,
        conv_shortcut_bias: bool = True,
        conv_2d_out_channels: int | None = None,
    ) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        conv_out = conv_2d_out_channels or out_channels
        self.output_scale_factor = output_scale_factor
        self.norm1 = SpatialNorm(in_channels, temb_channels)
        self.conv1 = Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm2 = SpatialNorm(out_channels, temb_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = Conv2d(out_channels, conv_out, kernel_size=3, padding=1)
        self.nonlinearity = activation(non_linearity)
        if use_in_shortcut is None:
            use_in_shortcut = in_channels != conv_out
        self.conv_shortcut: Conv2d | None = None
        if use_in_shortcut:
            self.conv_shortcut = Conv2d(
                in_channels, conv_out, kernel_size=1, bias=conv_shortcut_bias
            )

    def forward(self, input_tensor: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        hidden_states = self.conv1(self.nonlinearity(self.norm1(input_tensor, temb)))
        hidden_states = self.nonlinearity(self.norm2(hidden_states, temb))
        hidden_states = self.conv2(apply_layer(self.dropout, hidden_states))
        if self.conv_shortcut is not None:
            input_tensor = self.conv_shortcut(input_tensor)
        return (input_tensor + hidden_states) / self.output_scale_factor


def resnet_block(
    time_embedding_norm: str, temb_channels: int | None, **options: object
) -> nn.Module:
    """A `ResnetBlockCondNorm2D` for ``"spatial"`` conditioning, else a `ResnetBlock2D`."""
    if time_embedding_norm == "spatial":
        keep = {
            "in_channels",
            "out_channels",
            "dropout",
            "non_linearity",
            "output_scale_factor",
            "use_in_shortcut",
            "conv_shortcut_bias",
            "conv_2d_out_channels",
        }
        kept = {k: v for k, v in options.items() if k in keep}
        return ResnetBlockCondNorm2D(temb_channels=temb_channels, **kept)  # type: ignore[arg-type]
    return ResnetBlock2D(
        temb_channels=temb_channels,
        time_embedding_norm=time_embedding_norm,  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


__all__ = [
    "Downsample2D",
    "ResnetBlock2D",
    "ResnetBlockCondNorm2D",
    "Upsample2D",
    "resnet_block",
]
