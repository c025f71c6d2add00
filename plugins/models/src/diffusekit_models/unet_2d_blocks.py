"""Down, middle and up blocks of the image U-Nets (Ronneberger et al., "U-Net", 2015).

A down block is `num_layers` residual blocks (each optionally followed by a spatial
transformer) and a stride-2 conv; it returns every intermediate map as a skip connection. An
up block concatenates one skip per residual block and ends in a 2x upsampling conv.
Cross-attention variants condition on a context sequence (latent diffusion, Rombach et al.
2022).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .attention import Attention
from .normalization import default_groups
from .resnet import Downsample2D, ResnetBlock2D, Upsample2D, resnet_block
from .transformer_2d import Transformer2DModel


def _per_layer(value: int | Sequence[int], num_layers: int) -> list[int]:
    return [value] * num_layers if isinstance(value, int) else list(value)


def _resnet(
    in_channels: int,
    out_channels: int,
    temb_channels: int | None,
    eps: float,
    groups: int,
    dropout: float,
    time_scale_shift: str,
    act_fn: str,
    output_scale_factor: float,
    groups_out: int | None = None,
) -> nn.Module:
    options: dict[str, Any] = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "eps": eps,
        "groups": groups,
        "groups_out": groups_out,
        "dropout": dropout,
        "non_linearity": act_fn,
        "output_scale_factor": output_scale_factor,
    }
    return resnet_block(time_scale_shift, temb_channels, **options)


def _transformer(
    channels: int,
    heads: int,
    layers: int,
    cross_attention_dim: int | None,
    groups: int,
    use_linear_projection: bool,
    only_cross_attention: bool,
    upcast_attention: bool,
) -> Transformer2DModel:
    return Transformer2DModel(
        heads,
        channels // heads,
        in_channels=channels,
        num_layers=layers,
        cross_attention_dim=cross_attention_dim,
        norm_num_groups=groups,
        use_linear_projection=use_linear_projection,
        only_cross_attention=only_cross_attention,
        upcast_attention=upcast_attention,
    )


def _check_attention_type(attention_type: str, dual_cross_attention: bool) -> None:
    if attention_type != "default":
        raise ValueError(f"attention_type must be 'default', found {attention_type!r}")
    if dual_cross_attention:
        raise ValueError("dual_cross_attention=True is not supported")


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
        self.resnets = nn.ModuleList(
            _resnet(
                in_channels if i == 0 else out_channels,
                out_channels,
                temb_channels,
                resnet_eps,
                resnet_groups,
                dropout,
                resnet_time_scale_shift,
                resnet_act_fn,
                output_scale_factor,
            )
            for i in range(num_layers)
        )
        self.downsamplers = _downsamplers(add_downsample, out_channels, downsample_padding)

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        skips: list[torch.Tensor] = []
        for resnet in self.resnets:
            hidden_states = resnet(hidden_states, temb)
            skips.append(hidden_states)
        return _downsample(self.downsamplers, hidden_states, skips)


def _downsamplers(add: bool, channels: int, padding: int) -> nn.ModuleList | None:
    if not add:
        return None
    return nn.ModuleList(
        [Downsample2D(channels, use_conv=True, out_channels=channels, padding=padding, name="op")]
    )


def _downsample(
    downsamplers: nn.ModuleList | None, hidden_states: torch.Tensor, skips: list[torch.Tensor]
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    if downsamplers is not None:
        for downsampler in downsamplers:
            hidden_states = downsampler(hidden_states)
        skips.append(hidden_states)
    return hidden_states, tuple(skips)


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
        layers = _per_layer(transformer_layers_per_block, num_layers)
        self.resnets = nn.ModuleList(
            _resnet(
                in_channels if i == 0 else out_channels,
                out_channels,
                temb_channels,
                resnet_eps,
                resnet_groups,
                dropout,
                resnet_time_scale_shift,
                resnet_act_fn,
                output_scale_factor,
            )
            for i in range(num_layers)
        )
        self.attentions = nn.ModuleList(
            _transformer(
                out_channels,
                num_attention_heads,
                layers[i],
                cross_attention_dim,
                resnet_groups,
                use_linear_projection,
                only_cross_attention,
                upcast_attention,
            )
            for i in range(num_layers)
        )
        self.downsamplers = _downsamplers(add_downsample, out_channels, downsample_padding)

    def forward(
        self,
        hidden_states: torch.Tensor,
        temb: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        skips: list[torch.Tensor] = []
        for resnet, attention in zip(self.resnets, self.attentions):
            hidden_states = resnet(hidden_states, temb)
            hidden_states = attention(
                hidden_states,
                encoder_hidden_states,
                attention_mask,
                encoder_attention_mask,
                cross_attention_kwargs,
            )
            skips.append(hidden_states)
        return _downsample(self.downsamplers, hidden_states, skips)


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
        head_dim = attention_head_dim if attention_head_dim is not None else in_channels
        self.add_attention = add_attention

        def resnet() -> nn.Module:
            return _resnet(
                in_channels,
                in_channels,
                temb_channels,
                resnet_eps,
                groups,
                dropout,
                resnet_time_scale_shift,
                resnet_act_fn,
                output_scale_factor,
            )

        def attention() -> Attention | None:
            if not add_attention:
                return None
            return Attention(
                in_channels,
                heads=in_channels // head_dim,
                dim_head=head_dim,
                rescale_output_factor=output_scale_factor,
                eps=resnet_eps,
                norm_num_groups=attn_groups,
                spatial_norm_dim=temb_channels if resnet_time_scale_shift == "spatial" else None,
                residual_connection=True,
                bias=True,
                upcast_softmax=True,
            )

        self.resnets = nn.ModuleList([resnet()] + [resnet() for _ in range(num_layers)])
        self.attentions = nn.ModuleList([attention() for _ in range(num_layers)])

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> torch.Tensor:
        hidden_states = self.resnets[0](hidden_states, temb)
        for attention, resnet in zip(self.attentions, self.resnets[1:]):
            if attention is not None:
                hidden_states = attention(hidden_states, temb=temb)
            hidden_states = resnet(hidden_states, temb)
        return hidden_states


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
        layers = _per_layer(transformer_layers_per_block, num_layers)
        common = (temb_channels, resnet_eps)
        tail = (dropout, resnet_time_scale_shift, resnet_act_fn, output_scale_factor)
        resnets = [_resnet(in_channels, out_channels, *common, groups, *tail, groups_out)]
        resnets += [
            _resnet(out_channels, out_channels, *common, groups_out, *tail, groups_out)
            for _ in range(num_layers)
        ]
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList(
            _transformer(
                out_channels,
                num_attention_heads,
                layers[i],
                cross_attention_dim,
                groups_out,
                use_linear_projection,
                False,
                upcast_attention,
            )
            for i in range(num_layers)
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
        hidden_states = self.resnets[0](hidden_states, temb)
        for attention, resnet in zip(self.attentions, self.resnets[1:]):
            hidden_states = attention(
                hidden_states,
                encoder_hidden_states,
                attention_mask,
                encoder_attention_mask,
                cross_attention_kwargs,
            )
            hidden_states = resnet(hidden_states, temb)
        return hidden_states


def _up_resnets(
    in_channels: int,
    prev_output_channel: int,
    out_channels: int,
    num_layers: int,
    temb_channels: int | None,
    resnet_eps: float,
    resnet_groups: int,
    dropout: float,
    resnet_time_scale_shift: str,
    resnet_act_fn: str,
    output_scale_factor: float,
) -> nn.ModuleList:
    """Layer i takes the previous output plus one skip (the last skip has `in_channels`)."""
    resnets = []
    for i in range(num_layers):
        skip = in_channels if i == num_layers - 1 else out_channels
        previous = prev_output_channel if i == 0 else out_channels
        resnets.append(
            _resnet(
                previous + skip,
                out_channels,
                temb_channels,
                resnet_eps,
                resnet_groups,
                dropout,
                resnet_time_scale_shift,
                resnet_act_fn,
                output_scale_factor,
            )
        )
    return nn.ModuleList(resnets)


def _upsamplers(add: bool, channels: int) -> nn.ModuleList | None:
    if not add:
        return None
    return nn.ModuleList([Upsample2D(channels, use_conv=True, out_channels=channels)])


def _upsample(
    upsamplers: nn.ModuleList | None,
    hidden_states: torch.Tensor,
    upsample_size: tuple[int, int] | None,
) -> torch.Tensor:
    if upsamplers is not None:
        for upsampler in upsamplers:
            hidden_states = upsampler(hidden_states, upsample_size)
    return hidden_states


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
        self.resnets = _up_resnets(
            in_channels,
            prev_output_channel,
            out_channels,
            num_layers,
            temb_channels,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
        )
        self.upsamplers = _upsamplers(add_upsample, out_channels)

    def forward(
        self,
        hidden_states: torch.Tensor,
        res_hidden_states_tuple: tuple[torch.Tensor, ...],
        temb: torch.Tensor | None = None,
        upsample_size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        skips = list(res_hidden_states_tuple)
        for resnet in self.resnets:
            hidden_states = resnet(torch.cat([hidden_states, skips.pop()], dim=1), temb)
        return _upsample(self.upsamplers, hidden_states, upsample_size)


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
        layers = _per_layer(transformer_layers_per_block, num_layers)
        self.resnets = _up_resnets(
            in_channels,
            prev_output_channel,
            out_channels,
            num_layers,
            temb_channels,
            resnet_eps,
            resnet_groups,
            dropout,
            resnet_time_scale_shift,
            resnet_act_fn,
            output_scale_factor,
        )
        self.attentions = nn.ModuleList(
            _transformer(
                out_channels,
                num_attention_heads,
                layers[i],
                cross_attention_dim,
                resnet_groups,
                use_linear_projection,
                only_cross_attention,
                upcast_attention,
            )
            for i in range(num_layers)
        )
        self.upsamplers = _upsamplers(add_upsample, out_channels)

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
        skips = list(res_hidden_states_tuple)
        for resnet, attention in zip(self.resnets, self.attentions):
            hidden_states = resnet(torch.cat([hidden_states, skips.pop()], dim=1), temb)
            hidden_states = attention(
                hidden_states,
                encoder_hidden_states,
                attention_mask,
                encoder_attention_mask,
                cross_attention_kwargs,
            )
        return _upsample(self.upsamplers, hidden_states, upsample_size)


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
        self.resnets = nn.ModuleList(
            ResnetBlock2D(
                in_channels=in_channels if i == 0 else out_channels,
                out_channels=out_channels,
                temb_channels=None,
                eps=resnet_eps,
                groups=resnet_groups,
                dropout=dropout,
                time_embedding_norm=resnet_time_scale_shift,  # type: ignore[arg-type]
                non_linearity=resnet_act_fn,
                output_scale_factor=output_scale_factor,
            )
            for i in range(num_layers)
        )
        self.downsamplers = _downsamplers(add_downsample, out_channels, downsample_padding)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for resnet in self.resnets:
            hidden_states = resnet(hidden_states, None)
        return _downsample(self.downsamplers, hidden_states, [])[0]


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
        self.resnets = nn.ModuleList(
            _resnet(
                in_channels if i == 0 else out_channels,
                out_channels,
                temb_channels,
                resnet_eps,
                resnet_groups,
                dropout,
                resnet_time_scale_shift,
                resnet_act_fn,
                output_scale_factor,
            )
            for i in range(num_layers)
        )
        self.upsamplers = _upsamplers(add_upsample, out_channels)

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> torch.Tensor:
        for resnet in self.resnets:
            hidden_states = resnet(hidden_states, temb)
        return _upsample(self.upsamplers, hidden_states, None)


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
