"""The parts every 2D U-Net block is assembled from, written once.

A block is a stack of residual blocks (each optionally followed by an attention layer) and an
optional 2x resampler. Down blocks return each layer's output as a skip connection; up blocks
concatenate one skip onto their input before each residual block, in reverse order, so up layer
i sees the output of the down layer it mirrors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from .attention import Attention
from .resnet import Downsample2D, ResnetBlock2D, Upsample2D, resnet_block

ResampleType = Literal["conv", "resnet"]
GroupRule = Callable[[int, int], int]


def per_layer(value: int | Sequence[int], num_layers: int) -> list[int]:
    return [value] * num_layers if isinstance(value, int) else list(value)


def layer_inputs(
    in_channels: int, out_channels: int, num_layers: int, prev_output_channel: int | None = None
) -> list[tuple[int, int]]:
    """The (features, skip) input widths of each residual block of a block.

    Down blocks (no `prev_output_channel`) take `in_channels` first and their own output after,
    with no skip. Up blocks take the previous block's output first; the skip of the last layer
    is the down path's input to this resolution (`in_channels`), the others `out_channels`.
    """
    if prev_output_channel is None:
        return [(in_channels if i == 0 else out_channels, 0) for i in range(num_layers)]
    return [
        (
            prev_output_channel if i == 0 else out_channels,
            in_channels if i == num_layers - 1 else out_channels,
        )
        for i in range(num_layers)
    ]


@dataclass(frozen=True)
class ResnetOptions:
    """What the residual blocks of one U-Net block share.

    `groups` is the first norm's group count, or a rule computing it from a layer's
    (features, skip) input widths (NCSN++).
    """

    temb_channels: int | None
    eps: float
    groups: int | GroupRule
    dropout: float
    time_embedding_norm: str
    non_linearity: str
    output_scale_factor: float
    skip_time_act: bool = False
    groups_out: int | None = None

    def build(self, features: int, out_channels: int, skip: int = 0, **overrides: Any) -> nn.Module:
        groups = self.groups(features, skip) if callable(self.groups) else self.groups
        options: dict[str, Any] = {
            "in_channels": features + skip,
            "out_channels": out_channels,
            "eps": self.eps,
            "groups": groups,
            "groups_out": self.groups_out,
            "dropout": self.dropout,
            "non_linearity": self.non_linearity,
            "output_scale_factor": self.output_scale_factor,
            "skip_time_act": self.skip_time_act,
            **overrides,
        }
        return resnet_block(self.time_embedding_norm, self.temb_channels, **options)

    def stack(
        self,
        in_channels: int,
        out_channels: int,
        num_layers: int,
        prev_output_channel: int | None = None,
    ) -> nn.ModuleList:
        """The residual blocks of a down block, or of an up block given `prev_output_channel`."""
        widths = layer_inputs(in_channels, out_channels, num_layers, prev_output_channel)
        return nn.ModuleList(self.build(f, out_channels, s) for f, s in widths)


def spatial_attention(
    channels: int,
    head_dim: int | None,
    groups: int | None,
    eps: float,
    rescale_output_factor: float = 1.0,
    spatial_norm_dim: int | None = None,
) -> Attention:
    """Self-attention over the pixels of (batch, channels, height, width) feature maps."""
    head_dim = channels if head_dim is None else head_dim
    return Attention(
        channels,
        heads=channels // head_dim,
        dim_head=head_dim,
        rescale_output_factor=rescale_output_factor,
        eps=eps,
        norm_num_groups=groups,
        spatial_norm_dim=spatial_norm_dim,
        residual_connection=True,
        bias=True,
        upcast_softmax=True,
    )


def spatial_attentions(
    attend: bool,
    count: int,
    channels: int,
    head_dim: int | None,
    groups: int | None,
    eps: float,
    rescale_output_factor: float,
) -> nn.ModuleList | None:
    """`count` spatial self-attention layers, or ``None`` for a block without attention."""
    if not attend:
        return None
    return nn.ModuleList(
        spatial_attention(channels, head_dim, groups, eps, rescale_output_factor)
        for _ in range(count)
    )


def downsamplers(
    kind: ResampleType | None, channels: int, resnet: ResnetOptions, padding: int = 1
) -> nn.ModuleList | None:
    """A stride-2 conv (``"conv"``), a downsampling residual block (``"resnet"``), or none."""
    if kind is None:
        return None
    if kind == "resnet":
        return nn.ModuleList([resnet.build(channels, channels, down=True)])
    conv = Downsample2D(channels, use_conv=True, out_channels=channels, padding=padding, name="op")
    return nn.ModuleList([conv])


def upsamplers(
    kind: ResampleType | None, channels: int, resnet: ResnetOptions
) -> nn.ModuleList | None:
    """2x nearest + conv (``"conv"``), an upsampling residual block (``"resnet"``), or none."""
    if kind is None:
        return None
    if kind == "resnet":
        return nn.ModuleList([resnet.build(channels, channels, up=True)])
    return nn.ModuleList([Upsample2D(channels, use_conv=True, out_channels=channels)])


def run_layers(
    resnets: nn.ModuleList,
    attentions: nn.ModuleList | None,
    hidden_states: torch.Tensor,
    temb: torch.Tensor | None,
    attention_args: tuple[Any, ...] = (),
    skips: Sequence[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Residual block (+ attention) per layer; returns the last state and every layer's output.

    With `skips` (an up block), the last remaining skip is concatenated before each layer.
    """
    pending = None if skips is None else list(skips)
    outputs: list[torch.Tensor] = []
    for i, resnet in enumerate(resnets):
        if pending is not None:
            hidden_states = torch.cat([hidden_states, pending.pop()], dim=1)
        hidden_states = resnet(hidden_states, temb)
        if attentions is not None:
            hidden_states = attentions[i](hidden_states, *attention_args)
        outputs.append(hidden_states)
    return hidden_states, outputs


def run_mid_layers(
    resnets: nn.ModuleList,
    attentions: nn.ModuleList,
    hidden_states: torch.Tensor,
    temb: torch.Tensor | None,
    /,
    *attention_args: Any,
    **attention_kwargs: Any,
) -> torch.Tensor:
    """resnet -> (attention -> resnet) per attention; a ``None`` attention is skipped."""
    hidden_states = resnets[0](hidden_states, temb)
    for attention, resnet in zip(attentions, resnets[1:]):
        if attention is not None:
            hidden_states = attention(hidden_states, *attention_args, **attention_kwargs)
        hidden_states = resnet(hidden_states, temb)
    return hidden_states


def resample(
    layers: nn.ModuleList | None,
    hidden_states: torch.Tensor,
    temb: torch.Tensor | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Apply a block's resamplers; residual ones also take `temb`, upsamplers `size`."""
    if layers is None:
        return hidden_states
    for layer in layers:
        if isinstance(layer, ResnetBlock2D):
            hidden_states = layer(hidden_states, temb)
        elif size is not None:
            hidden_states = layer(hidden_states, size)
        else:
            hidden_states = layer(hidden_states)
    return hidden_states


def downsample_tail(
    layers: nn.ModuleList | None,
    hidden_states: torch.Tensor,
    outputs: list[torch.Tensor],
    temb: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Downsample (if the block does) and add the result to the block's skip outputs."""
    if layers is not None:
        hidden_states = resample(layers, hidden_states, temb)
        outputs.append(hidden_states)
    return hidden_states, tuple(outputs)
