"""Down and up blocks of the unconditional image U-Nets: attention and BigGAN-style resampling.

Ho et al., "Denoising Diffusion Probabilistic Models" (2020): at chosen resolutions each
residual block is followed by self-attention over pixels (group norm, residual connection,
optional output rescaling). With ``downsample_type``/``upsample_type="resnet"`` the 2x
resampling is itself a residual block (Brock et al., BigGAN, 2019), as in the improved U-Nets
of Dhariwal & Nichol (2021) and consistency models; the ``Resnet*sampleBlock2D`` blocks are the
same without attention.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._block_parts import (
    ResampleType,
    ResnetOptions,
    downsample_tail,
    downsamplers,
    resample,
    run_layers,
    spatial_attentions,
    upsamplers,
)


class _DownBlock(nn.Module):
    """`num_layers` x residual block (+ attention), then an optional downsampler."""

    attend: bool = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        temb_channels: int,
        dropout: float = 0.0,
        num_layers: int = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int = 32,
        attention_head_dim: int | None = 1,
        output_scale_factor: float = 1.0,
        downsample_padding: int = 1,
        downsample_type: ResampleType | None = "conv",
        skip_time_act: bool = False,
    ) -> None:
        super().__init__()
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
            skip_time_act,
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers)
        self.attentions = spatial_attentions(
            self.attend,
            num_layers,
            out_channels,
            attention_head_dim,
            resnet_groups,
            resnet_eps,
            output_scale_factor,
        )
        self.downsamplers = downsamplers(downsample_type, out_channels, resnet, downsample_padding)

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        hidden_states, outputs = run_layers(self.resnets, self.attentions, hidden_states, temb)
        return downsample_tail(self.downsamplers, hidden_states, outputs, temb)


class _UpBlock(nn.Module):
    """`num_layers` x (concatenate a skip, residual block (+ attention)), then an upsampler."""

    attend: bool = True

    def __init__(
        self,
        in_channels: int,
        prev_output_channel: int,
        out_channels: int,
        temb_channels: int,
        resolution_idx: int | None = None,
        dropout: float = 0.0,
        num_layers: int = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int = 32,
        attention_head_dim: int | None = 1,
        output_scale_factor: float = 1.0,
        upsample_type: ResampleType | None = "conv",
        skip_time_act: bool = False,
    ) -> None:
        super().__init__()
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
            skip_time_act,
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers, prev_output_channel)
        self.attentions = spatial_attentions(
            self.attend,
            num_layers,
            out_channels,
            attention_head_dim,
            resnet_groups,
            resnet_eps,
            output_scale_factor,
        )
        self.upsamplers = upsamplers(upsample_type, out_channels, resnet)
        self.resolution_idx = resolution_idx

    def forward(
        self,
        hidden_states: torch.Tensor,
        res_hidden_states_tuple: tuple[torch.Tensor, ...],
        temb: torch.Tensor | None = None,
        upsample_size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        hidden_states, _ = run_layers(
            self.resnets, self.attentions, hidden_states, temb, skips=res_hidden_states_tuple
        )
        return resample(self.upsamplers, hidden_states, temb, upsample_size)


class AttnDownBlock2D(_DownBlock):
    pass


class AttnUpBlock2D(_UpBlock):
    pass


class ResnetDownsampleBlock2D(_DownBlock):
    """Residual blocks, then a downsampling residual block (`add_downsample`); no attention."""

    attend = False

    def __init__(self, *args: Any, add_downsample: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, downsample_type="resnet" if add_downsample else None, **kwargs)


class ResnetUpsampleBlock2D(_UpBlock):
    """Residual blocks on [features | skip], then an upsampling residual block; no attention."""

    attend = False

    def __init__(self, *args: Any, add_upsample: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, upsample_type="resnet" if add_upsample else None, **kwargs)
