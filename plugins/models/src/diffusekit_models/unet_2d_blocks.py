"""Down, middle and up blocks of the image U-Nets (Ronneberger et al., "U-Net", 2015).

A down block is `num_layers` residual blocks (each optionally followed by a spatial
transformer) and a stride-2 conv; it returns every intermediate map as a skip connection. An
up block concatenates one skip per residual block and ends in a 2x upsampling conv.
Cross-attention variants condition on a context sequence (latent diffusion, Rombach et al.
2022).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from ._block_parts import (
    ResnetOptions,
    downsample_tail,
    downsamplers,
    per_layer,
    resample,
    run_layers,
    run_mid_layers,
    spatial_attention,
    upsamplers,
)
from .normalization import default_groups
from .transformer_2d import Transformer2DModel


def _transformers(
    channels: int,
    heads: int,
    layers: Sequence[int],
    cross_attention_dim: int | None,
    groups: int,
    use_linear_projection: bool,
    only_cross_attention: bool,
    upcast_attention: bool,
) -> nn.ModuleList:
    """One spatial transformer per residual block; `layers[i]` transformer blocks in the i-th."""
    return nn.ModuleList(
        Transformer2DModel(
            heads,
            channels // heads,
            in_channels=channels,
            num_layers=count,
            cross_attention_dim=cross_attention_dim,
            norm_num_groups=groups,
            use_linear_projection=use_linear_projection,
            only_cross_attention=only_cross_attention,
            upcast_attention=upcast_attention,
        )
        for count in layers
    )


def _check_attention_type(attention_type: str, dual_cross_attention: bool) -> None:
    if attention_type != "default":
        raise ValueError(f"attention_type must be 'default', found {attention_type!r}")
    if dual_cross_attention:
        raise ValueError("dual_cross_attention=True is not supported")


def _conv_if(add: bool) -> Literal["conv"] | None:
    return "conv" if add else None


class DownBlock2D(nn.Module):
    """Residual blocks, then a stride-2 conv (`add_downsample`); no attention."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        temb_channels: int | None,
        dropout: float = 0.0,
        num_layers: int = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int = 32,
        resnet_pre_norm: bool = True,
        output_scale_factor: float = 1.0,
        add_downsample: bool = True,
        downsample_padding: int = 1,
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
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers)
        self.downsamplers = downsamplers(
            _conv_if(add_downsample), out_channels, resnet, downsample_padding
        )

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        hidden_states, outputs = run_layers(self.resnets, None, hidden_states, temb)
        return downsample_tail(self.downsamplers, hidden_states, outputs)


class CrossAttnDownBlock2D(nn.Module):
    """Residual blocks each followed by a spatial transformer, then a stride-2 conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        temb_channels: int,
        dropout: float = 0.0,
        num_layers: int = 1,
        transformer_layers_per_block: int | Sequence[int] = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int = 32,
        resnet_pre_norm: bool = True,
        num_attention_heads: int = 1,
        cross_attention_dim: int = 1280,
        output_scale_factor: float = 1.0,
        downsample_padding: int = 1,
        add_downsample: bool = True,
        dual_cross_attention: bool = False,
        use_linear_projection: bool = False,
        only_cross_attention: bool = False,
        upcast_attention: bool = False,
        attention_type: str = "default",
    ) -> None:
        super().__init__()
        _check_attention_type(attention_type, dual_cross_attention)
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers)
        self.attentions = _transformers(
            out_channels,
            num_attention_heads,
            per_layer(transformer_layers_per_block, num_layers),
            cross_attention_dim,
            resnet_groups,
            use_linear_projection,
            only_cross_attention,
            upcast_attention,
        )
        self.downsamplers = downsamplers(
            _conv_if(add_downsample), out_channels, resnet, downsample_padding
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        temb: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        context = (
            encoder_hidden_states,
            attention_mask,
            encoder_attention_mask,
            cross_attention_kwargs,
        )
        hidden_states, outputs = run_layers(
            self.resnets, self.attentions, hidden_states, temb, context
        )
        return downsample_tail(self.downsamplers, hidden_states, outputs)


class UNetMidBlock2D(nn.Module):
    """resnet -> (self-attention -> resnet) x num_layers, at the lowest resolution.

    The attention layers are group-normed, residual spatial self-attention with
    `attention_head_dim` channels per head (the DDPM / autoencoder middle block).
    """

    def __init__(
        self,
        in_channels: int,
        temb_channels: int | None,
        dropout: float = 0.0,
        num_layers: int = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int | None = 32,
        attn_groups: int | None = None,
        resnet_pre_norm: bool = True,
        add_attention: bool = True,
        attention_head_dim: int | None = 1,
        output_scale_factor: float = 1.0,
    ) -> None:
        super().__init__()
        groups = resnet_groups if resnet_groups is not None else default_groups(in_channels)
        if attn_groups is None and resnet_time_scale_shift == "default":
            attn_groups = groups
        spatial = temb_channels if resnet_time_scale_shift == "spatial" else None
        self.add_attention = add_attention
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
        )
        self.resnets = resnet.stack(in_channels, in_channels, num_layers + 1)
        self.attentions = nn.ModuleList(
            spatial_attention(
                in_channels,
                attention_head_dim,
                attn_groups,
                resnet_eps,
                output_scale_factor,
                spatial,
            )
            if add_attention
            else None
            for _ in range(num_layers)
        )

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> torch.Tensor:
        return run_mid_layers(self.resnets, self.attentions, hidden_states, temb, temb=temb)


class UNetMidBlock2DCrossAttn(nn.Module):
    """resnet -> (spatial transformer -> resnet) x num_layers, conditioned on a context."""

    def __init__(
        self,
        in_channels: int,
        temb_channels: int,
        out_channels: int | None = None,
        dropout: float = 0.0,
        num_layers: int = 1,
        transformer_layers_per_block: int | Sequence[int] = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int | None = 32,
        resnet_groups_out: int | None = None,
        resnet_pre_norm: bool = True,
        num_attention_heads: int = 1,
        output_scale_factor: float = 1.0,
        cross_attention_dim: int = 1280,
        dual_cross_attention: bool = False,
        use_linear_projection: bool = False,
        upcast_attention: bool = False,
        attention_type: str = "default",
    ) -> None:
        super().__init__()
        _check_attention_type(attention_type, dual_cross_attention)
        out_channels = out_channels or in_channels
        groups = resnet_groups if resnet_groups is not None else default_groups(in_channels)
        groups_out = resnet_groups_out or groups
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            groups_out,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
            groups_out=groups_out,
        )
        first = resnet.build(in_channels, out_channels, groups=groups)
        self.resnets = nn.ModuleList([first, *resnet.stack(out_channels, out_channels, num_layers)])
        self.attentions = _transformers(
            out_channels,
            num_attention_heads,
            per_layer(transformer_layers_per_block, num_layers),
            cross_attention_dim,
            groups_out,
            use_linear_projection,
            False,
            upcast_attention,
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        temb: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
    ) -> torch.Tensor:
        return run_mid_layers(
            self.resnets,
            self.attentions,
            hidden_states,
            temb,
            encoder_hidden_states,
            attention_mask,
            encoder_attention_mask,
            cross_attention_kwargs,
        )


class UpBlock2D(nn.Module):
    """Residual blocks on [features | skip], then 2x upsampling (`add_upsample`)."""

    def __init__(
        self,
        in_channels: int,
        prev_output_channel: int,
        out_channels: int,
        temb_channels: int | None,
        resolution_idx: int | None = None,
        dropout: float = 0.0,
        num_layers: int = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int = 32,
        resnet_pre_norm: bool = True,
        output_scale_factor: float = 1.0,
        add_upsample: bool = True,
    ) -> None:
        super().__init__()
        self.resolution_idx = resolution_idx
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers, prev_output_channel)
        self.upsamplers = upsamplers(_conv_if(add_upsample), out_channels, resnet)

    def forward(
        self,
        hidden_states: torch.Tensor,
        res_hidden_states_tuple: tuple[torch.Tensor, ...],
        temb: torch.Tensor | None = None,
        upsample_size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        hidden_states, _ = run_layers(
            self.resnets, None, hidden_states, temb, skips=res_hidden_states_tuple
        )
        return resample(self.upsamplers, hidden_states, temb, upsample_size)


class CrossAttnUpBlock2D(nn.Module):
    """Residual blocks on [features | skip], each followed by a spatial transformer; 2x up."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        prev_output_channel: int,
        temb_channels: int,
        resolution_idx: int | None = None,
        dropout: float = 0.0,
        num_layers: int = 1,
        transformer_layers_per_block: int | Sequence[int] = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int = 32,
        resnet_pre_norm: bool = True,
        num_attention_heads: int = 1,
        cross_attention_dim: int = 1280,
        output_scale_factor: float = 1.0,
        add_upsample: bool = True,
        dual_cross_attention: bool = False,
        use_linear_projection: bool = False,
        only_cross_attention: bool = False,
        upcast_attention: bool = False,
        attention_type: str = "default",
    ) -> None:
        super().__init__()
        _check_attention_type(attention_type, dual_cross_attention)
        self.resolution_idx = resolution_idx
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers, prev_output_channel)
        self.attentions = _transformers(
            out_channels,
            num_attention_heads,
            per_layer(transformer_layers_per_block, num_layers),
            cross_attention_dim,
            resnet_groups,
            use_linear_projection,
            only_cross_attention,
            upcast_attention,
        )
        self.upsamplers = upsamplers(_conv_if(add_upsample), out_channels, resnet)

    def forward(
        self,
        hidden_states: torch.Tensor,
        res_hidden_states_tuple: tuple[torch.Tensor, ...],
        temb: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        upsample_size: tuple[int, int] | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
    ) -> torch.Tensor:
        context = (
            encoder_hidden_states,
            attention_mask,
            encoder_attention_mask,
            cross_attention_kwargs,
        )
        hidden_states, _ = run_layers(
            self.resnets, self.attentions, hidden_states, temb, context, res_hidden_states_tuple
        )
        return resample(self.upsamplers, hidden_states, temb, upsample_size)


class DownEncoderBlock2D(nn.Module):
    """The autoencoder's down block: residual blocks without time input, then stride-2 conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dropout: float = 0.0,
        num_layers: int = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int = 32,
        resnet_pre_norm: bool = True,
        output_scale_factor: float = 1.0,
        add_downsample: bool = True,
        downsample_padding: int = 1,
    ) -> None:
        super().__init__()
        resnet = ResnetOptions(
            None,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers)
        self.downsamplers = downsamplers(
            _conv_if(add_downsample), out_channels, resnet, downsample_padding
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states, _ = run_layers(self.resnets, None, hidden_states, None)
        return resample(self.downsamplers, hidden_states)


class UpDecoderBlock2D(nn.Module):
    """The autoencoder's up block: residual blocks (no skips), then 2x upsampling.

    With ``resnet_time_scale_shift="spatial"`` the norms are conditioned on `temb` (MoVQ).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        resolution_idx: int | None = None,
        dropout: float = 0.0,
        num_layers: int = 1,
        resnet_eps: float = 1e-6,
        resnet_time_scale_shift: str = "default",
        resnet_act_fn: str = "swish",
        resnet_groups: int = 32,
        resnet_pre_norm: bool = True,
        output_scale_factor: float = 1.0,
        add_upsample: bool = True,
        temb_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.resolution_idx = resolution_idx
        resnet = ResnetOptions(
            temb_channels,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
        )
        self.resnets = resnet.stack(in_channels, out_channels, num_layers)
        self.upsamplers = upsamplers(_conv_if(add_upsample), out_channels, resnet)

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> torch.Tensor:
        hidden_states, _ = run_layers(self.resnets, None, hidden_states, temb)
        return resample(self.upsamplers, hidden_states)


__all__ = [
    "CrossAttnDownBlock2D",
    "CrossAttnUpBlock2D",
    "DownBlock2D",
    "DownEncoderBlock2D",
    "UNetMidBlock2D",
    "UNetMidBlock2DCrossAttn",
    "UpBlock2D",
    "UpDecoderBlock2D",
]
