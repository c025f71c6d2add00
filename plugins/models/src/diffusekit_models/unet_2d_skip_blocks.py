"""NCSN++ blocks: a U-Net with a progressive RGB skip path and FIR resampling.

Song et al., "Score-Based Generative Modeling through Stochastic Differential Equations" (2021),
Appendix H: the down path adds 1x1 projections of an FIR-downsampled copy of the input image
("input skip"); the up path sums 3x3 projections to RGB at every resolution, FIR-upsampled
("output skip"). Residual blocks are BigGAN-style (resampling inside the block) and scale their
output by 1/sqrt(2). Group counts follow NCSN++: min(channels // 4, 32).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from ._block_parts import ResnetOptions, run_layers, spatial_attentions
from .conv import Conv2d
from .fir import FirDownsample2D, FirUpsample2D
from .normalization import GroupNorm

SKIP_SCALE = math.sqrt(2.0)
IMAGE_CHANNELS = 3


def _groups(channels: int) -> int:
    return min(channels // 4, 32)


def _input_groups(features: int, skip: int) -> int:
    return _groups(features + skip)


class _SkipDownBlock(nn.Module):
    """Takes and returns the downsampled input image (`skip_sample`) besides the features."""

    attend: bool = False
    carries_image_skip: ClassVar[bool] = True

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
        attention_head_dim: int | None = 1,
        output_scale_factor: float = SKIP_SCALE,
        add_downsample: bool = True,
    ) -> None:
        super().__init__()
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            _input_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
            groups_out=_groups(out_channels),
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers)
        self.attentions = spatial_attentions(
            self.attend,
            num_layers,
            out_channels,
            attention_head_dim,
            32,
            resnet_eps,
            output_scale_factor,
        )
        self.resnet_down: nn.Module | None = None
        self.downsamplers: nn.ModuleList | None = None
        self.skip_conv: nn.Module | None = None
        if add_downsample:
            self.resnet_down = resnet.build(
                out_channels, out_channels, use_in_shortcut=True, down=True, kernel="fir"
            )
            self.downsamplers = nn.ModuleList([FirDownsample2D(out_channels, out_channels)])
            self.skip_conv = Conv2d(IMAGE_CHANNELS, out_channels, kernel_size=1)

    def forward(
        self,
        hidden_states: torch.Tensor,
        temb: torch.Tensor | None = None,
        skip_sample: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor | None]:
        hidden_states, outputs = run_layers(self.resnets, self.attentions, hidden_states, temb)
        if self.resnet_down is not None:
            hidden_states = self.resnet_down(hidden_states, temb)
            for downsampler in self.downsamplers:
                skip_sample = downsampler(skip_sample)
            hidden_states = self.skip_conv(skip_sample) + hidden_states
            outputs.append(hidden_states)
        return hidden_states, tuple(outputs), skip_sample


class SkipDownBlock2D(_SkipDownBlock):
    pass


class AttnSkipDownBlock2D(_SkipDownBlock):
    attend = True


class _SkipUpBlock(nn.Module):
    """Takes and returns the running RGB output (`skip_sample`) besides the features."""

    attend: bool = False
    carries_image_skip: ClassVar[bool] = True
    _input_groups = staticmethod(_input_groups)

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
        attention_head_dim: int | None = 1,
        output_scale_factor: float = SKIP_SCALE,
        add_upsample: bool = True,
    ) -> None:
        super().__init__()
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            self._input_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
            groups_out=_groups(out_channels),
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers, prev_output_channel)
        self.attentions = spatial_attentions(
            self.attend, 1, out_channels, attention_head_dim, 32, resnet_eps, output_scale_factor
        )
        self.upsampler = FirUpsample2D(in_channels, out_channels)
        self.resnet_up: nn.Module | None = None
        self.skip_conv: nn.Module | None = None
        self.skip_norm: nn.Module | None = None
        self.act: nn.Module | None = None
        if add_upsample:
            self.resnet_up = resnet.build(
                out_channels,
                out_channels,
                groups=_groups(out_channels),
                use_in_shortcut=True,
                up=True,
                kernel="fir",
            )
            self.skip_conv = Conv2d(out_channels, IMAGE_CHANNELS, kernel_size=3, padding=1)
            self.skip_norm = GroupNorm(_groups(out_channels), out_channels, eps=resnet_eps)
            self.act = nn.SiLU()
        self.resolution_idx = resolution_idx

    def forward(
        self,
        hidden_states: torch.Tensor,
        res_hidden_states_tuple: tuple[torch.Tensor, ...],
        temb: torch.Tensor | None = None,
        skip_sample: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | float]:
        hidden_states, _ = run_layers(
            self.resnets, None, hidden_states, temb, skips=res_hidden_states_tuple
        )
        if self.attentions is not None:
            hidden_states = self.attentions[0](hidden_states)
        rgb: torch.Tensor | float = 0.0 if skip_sample is None else self.upsampler(skip_sample)
        if self.resnet_up is not None:
            rgb = rgb + self.skip_conv(self.act(self.skip_norm(hidden_states)))
            hidden_states = self.resnet_up(hidden_states, temb)
        return hidden_states, rgb


class SkipUpBlock2D(_SkipUpBlock):
    pass


class AttnSkipUpBlock2D(_SkipUpBlock):
    """One attention layer after the residual blocks, whatever `num_layers` is."""

    attend = True

    @staticmethod
    def _input_groups(resnet_in: int, skip_channels: int) -> int:
        # The reference computes min(resnet_in + skip // 4, 32) here (operator precedence);
        # checkpoints were made with it, so it is kept. It only differs below 128 channels.
        return min(resnet_in + skip_channels // 4, 32)
