"""Down and up blocks of the unconditional image U-Nets: attention and BigGAN-style resampling.

Ho et al., "Denoising Diffusion Probabilistic Models" (2020): at chosen resolutions each
residual block is followed by self-attention over pixels (group norm, residual connection,
optional output rescaling). With ``downsample_type``/``upsample_type="resnet"`` the 2x
resampling is itself a residual block (Brock et al., BigGAN, 2019), as in the improved U-Nets
of Dhariwal & Nichol (2021) and consistency models; the ``Resnet*sampleBlock2D`` blocks are the
same without attention.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from .attention import Attention
from .resnet import Downsample2D, ResnetBlock2D, Upsample2D

ResampleType = Literal["conv", "resnet"]


def spatial_attention(
    channels: int,
    head_dim: int | None,
    groups: int | None,
    eps: float,
    rescale_output_factor: float = 1.0,
) -> nn.Module:
    """Self-attention over the pixels of (batch, channels, height, width) feature maps."""
    head_dim = channels if head_dim is None else head_dim
    return Attention(
        channels,
        heads=channels // head_dim,
        dim_head=head_dim,
        rescale_output_factor=rescale_output_factor,
        eps=eps,
        norm_num_groups=groups,
        residual_connection=True,
        bias=True,
        upcast_softmax=True,
    )


def _resnet_options(
    temb_channels: int,
    dropout: float,
    resnet_eps: float,
    resnet_time_scale_shift: str,
    resnet_act_fn: str,
    resnet_groups: int,
    output_scale_factor: float,
    skip_time_act: bool,
) -> dict[str, Any]:
    return {
        "temb_channels": temb_channels,
        "eps": resnet_eps,
        "groups": resnet_groups,
        "dropout": dropout,
        "time_embedding_norm": resnet_time_scale_shift,
        "non_linearity": resnet_act_fn,
        "output_scale_factor": output_scale_factor,
        "skip_time_act": skip_time_act,
    }


class _ResampledBlock(nn.Module):
    """Shared resampler handling: a conv layer, or a residual block that also takes `temb`."""

    resample_type: ResampleType | None

    def _resample(
        self,
        layers: nn.ModuleList | None,
        hidden_states: torch.Tensor,
        temb: torch.Tensor | None,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        if layers is None:
            return hidden_states
        for layer in layers:
            if self.resample_type == "resnet":
                hidden_states = layer(hidden_states, temb)
            elif size is not None:
                hidden_states = layer(hidden_states, size)
            else:
                hidden_states = layer(hidden_states)
        return hidden_states


class _DownBlock(_ResampledBlock):
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
        resnet = _resnet_options(
            temb_channels,
            dropout,
            resnet_eps,
            resnet_time_scale_shift,
            resnet_act_fn,
            resnet_groups,
            output_scale_factor,
            skip_time_act,
        )
        self.resnets = nn.ModuleList(
            ResnetBlock2D(
                in_channels=in_channels if i == 0 else out_channels,
                out_channels=out_channels,
                **resnet,
            )
            for i in range(num_layers)
        )
        if self.attend:
            self.attentions = nn.ModuleList(
                spatial_attention(
                    out_channels, attention_head_dim, resnet_groups, resnet_eps, output_scale_factor
                )
                for _ in range(num_layers)
            )
        self.resample_type = downsample_type
        self.downsamplers: nn.ModuleList | None = None
        if downsample_type == "conv":
            layer: nn.Module = Downsample2D(
                out_channels,
                use_conv=True,
                out_channels=out_channels,
                padding=downsample_padding,
                name="op",
            )
            self.downsamplers = nn.ModuleList([layer])
        elif downsample_type == "resnet":
            layer = ResnetBlock2D(
                in_channels=out_channels, out_channels=out_channels, down=True, **resnet
            )
            self.downsamplers = nn.ModuleList([layer])

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        outputs: list[torch.Tensor] = []
        for i, resnet in enumerate(self.resnets):
            hidden_states = resnet(hidden_states, temb)
            if self.attend:
                hidden_states = self.attentions[i](hidden_states)
            outputs.append(hidden_states)
        if self.downsamplers is not None:
            hidden_states = self._resample(self.downsamplers, hidden_states, temb)
            outputs.append(hidden_states)
        return hidden_states, tuple(outputs)


class _UpBlock(_ResampledBlock):
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
        resnet = _resnet_options(
            temb_channels,
            dropout,
            resnet_eps,
            resnet_time_scale_shift,
            resnet_act_fn,
            resnet_groups,
            output_scale_factor,
            skip_time_act,
        )
        resnets = []
        for i in range(num_layers):
            skip_channels = in_channels if i == num_layers - 1 else out_channels
            resnet_in = prev_output_channel if i == 0 else out_channels
            resnets.append(
                ResnetBlock2D(
                    in_channels=resnet_in + skip_channels, out_channels=out_channels, **resnet
                )
            )
        self.resnets = nn.ModuleList(resnets)
        if self.attend:
            self.attentions = nn.ModuleList(
                spatial_attention(
                    out_channels, attention_head_dim, resnet_groups, resnet_eps, output_scale_factor
                )
                for _ in range(num_layers)
            )
        self.resample_type = upsample_type
        self.upsamplers: nn.ModuleList | None = None
        if upsample_type == "conv":
            layer: nn.Module = Upsample2D(out_channels, use_conv=True, out_channels=out_channels)
            self.upsamplers = nn.ModuleList([layer])
        elif upsample_type == "resnet":
            layer = ResnetBlock2D(
                in_channels=out_channels, out_channels=out_channels, up=True, **resnet
            )
            self.upsamplers = nn.ModuleList([layer])
        self.resolution_idx = resolution_idx

    def forward(
        self,
        hidden_states: torch.Tensor,
        res_hidden_states_tuple: tuple[torch.Tensor, ...],
        temb: torch.Tensor | None = None,
        upsample_size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        skips = list(res_hidden_states_tuple)
        for i, resnet in enumerate(self.resnets):
            hidden_states = resnet(torch.cat([hidden_states, skips.pop()], dim=1), temb)
            if self.attend:
                hidden_states = self.attentions[i](hidden_states)
        return self._resample(self.upsamplers, hidden_states, temb, upsample_size)


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
