"""The convolutional encoder and decoder of the latent-diffusion autoencoders, and the
Gaussian posterior they parameterize.

Esser et al., "Taming Transformers for High-Resolution Image Synthesis" (2021) architecture,
used as a KL-regularized VAE (Kingma & Welling, "Auto-Encoding Variational Bayes", 2014) by
Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models" (2022).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from diffusekit.noise import randn_tensor

from ._activation import activation
from .conv import Conv2d
from .normalization import GroupNorm, SpatialNorm
from .unet_2d_blocks import DownEncoderBlock2D, UNetMidBlock2D, UpDecoderBlock2D

EPS = 1e-6


def _check_block_types(kind: str, found: Sequence[str], allowed: str) -> None:
    wrong = [name for name in found if name != allowed]
    if wrong:
        raise ValueError(f"{kind}: only {allowed!r} blocks are supported, found {wrong}")


class Encoder(nn.Module):
    """Image -> conv_in -> down blocks -> mid block (with self-attention) -> norm/act/conv_out.

    `double_z` doubles the output channels to hold a mean and a log-variance per latent.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        down_block_types: Sequence[str] = ("DownEncoderBlock2D",),
        block_out_channels: Sequence[int] = (64,),
        layers_per_block: int = 2,
        norm_num_groups: int = 32,
        act_fn: str = "silu",
        double_z: bool = True,
        mid_block_add_attention: bool = True,
    ) -> None:
        super().__init__()
        _check_block_types("Encoder", down_block_types, "DownEncoderBlock2D")
        self.conv_in = Conv2d(in_channels, block_out_channels[0], kernel_size=3, padding=1)
        self.down_blocks = nn.ModuleList()
        channels = block_out_channels[0]
        last = len(block_out_channels) - 1
        for i, out in enumerate(block_out_channels):
            self.down_blocks.append(
                DownEncoderBlock2D(
                    channels,
                    out,
                    num_layers=layers_per_block,
                    resnet_eps=EPS,
                    resnet_act_fn=act_fn,
                    resnet_groups=norm_num_groups,
                    add_downsample=i != last,
                    downsample_padding=0,
                )
            )
            channels = out
        self.mid_block = UNetMidBlock2D(
            channels,
            temb_channels=None,
            resnet_eps=EPS,
            resnet_act_fn=act_fn,
            resnet_groups=norm_num_groups,
            attention_head_dim=channels,
            add_attention=mid_block_add_attention,
        )
        self.conv_norm_out = GroupNorm(num_channels=channels, num_groups=norm_num_groups, eps=EPS)
        self.conv_act = activation(act_fn)
        conv_out = 2 * out_channels if double_z else out_channels
        self.conv_out = Conv2d(channels, conv_out, kernel_size=3, padding=1)

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        sample = self.conv_in(sample)
        for block in self.down_blocks:
            sample = block(sample)
        sample = self.mid_block(sample)
        return self.conv_out(self.conv_act(self.conv_norm_out(sample)))


class Decoder(nn.Module):
    """Latents -> conv_in -> mid block -> up blocks -> norm/act/conv_out -> image.

    ``norm_type="spatial"`` conditions every norm on the latents passed as `latent_embeds`
    (MoVQ); ``"group"`` is the plain decoder.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        up_block_types: Sequence[str] = ("UpDecoderBlock2D",),
        block_out_channels: Sequence[int] = (64,),
        layers_per_block: int = 2,
        norm_num_groups: int = 32,
        act_fn: str = "silu",
        norm_type: Literal["group", "spatial"] = "group",
        mid_block_add_attention: bool = True,
    ) -> None:
        super().__init__()
        _check_block_types("Decoder", up_block_types, "UpDecoderBlock2D")
        if norm_type not in ("group", "spatial"):
            raise ValueError(
                f"Decoder: norm_type must be 'group' or 'spatial', found {norm_type!r}"
            )
        widths = list(reversed(block_out_channels))
        temb_channels = in_channels if norm_type == "spatial" else None
        shift = "default" if norm_type == "group" else norm_type
        self.conv_in = Conv2d(in_channels, widths[0], kernel_size=3, padding=1)
        self.mid_block = UNetMidBlock2D(
            widths[0],
            temb_channels=temb_channels,
            resnet_eps=EPS,
            resnet_act_fn=act_fn,
            resnet_time_scale_shift=shift,
            resnet_groups=norm_num_groups,
            attention_head_dim=widths[0],
            add_attention=mid_block_add_attention,
        )
        self.up_blocks = nn.ModuleList()
        channels = widths[0]
        for i, out in enumerate(widths):
            self.up_blocks.append(
                UpDecoderBlock2D(
                    channels,
                    out,
                    num_layers=layers_per_block + 1,
                    resnet_eps=EPS,
                    resnet_time_scale_shift=shift,
                    resnet_act_fn=act_fn,
                    resnet_groups=norm_num_groups,
                    add_upsample=i != len(widths) - 1,
                    temb_channels=temb_channels,
                )
            )
            channels = out
        self.conv_norm_out: nn.Module = (
            SpatialNorm(channels, in_channels)
            if norm_type == "spatial"
            else GroupNorm(num_channels=channels, num_groups=norm_num_groups, eps=EPS)
        )
        self.conv_act = activation(act_fn)
        self.conv_out = Conv2d(channels, out_channels, kernel_size=3, padding=1)

    def forward(
        self, sample: torch.Tensor, latent_embeds: torch.Tensor | None = None
    ) -> torch.Tensor:
        sample = self.conv_in(sample)
        up_dtype = self.conv_out.weight.dtype
        sample = self.mid_block(sample, latent_embeds).to(up_dtype)
        for block in self.up_blocks:
            sample = block(sample, latent_embeds)
        if latent_embeds is None:
            sample = self.conv_norm_out(sample)
        else:
            sample = self.conv_norm_out(sample, latent_embeds)
        return self.conv_out(self.conv_act(sample))


class DiagonalGaussianDistribution:
    """N(mean, diag(exp(logvar))) from an encoder output [mean | logvar] along channels.

    The log-variance is clamped to [-30, 20]; `deterministic` makes the variance zero.
    """

    def __init__(self, parameters: torch.Tensor, deterministic: bool = False) -> None:
        self.parameters = parameters
        self.mean, self.logvar = parameters.chunk(2, dim=1)
        self.logvar = self.logvar.clamp(-30.0, 20.0)
        self.deterministic = deterministic
        if deterministic:
            self.std = self.var = torch.zeros_like(self.mean)
        else:
            self.std = torch.exp(0.5 * self.logvar)
            self.var = torch.exp(self.logvar)

    def sample(
        self, generator: torch.Generator | list[torch.Generator] | None = None
    ) -> torch.Tensor:
        """mean + std * ε, with ε drawn from `generator`."""
        noise = randn_tensor(tuple(self.mean.shape), generator, self.mean.device, self.mean.dtype)
        return self.mean + self.std * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self, other: DiagonalGaussianDistribution | None = None) -> torch.Tensor:
        """KL(self || other) per sample, summed over (C, H, W); `other` defaults to N(0, I)."""
        if self.deterministic:
            return torch.zeros(self.mean.shape[0], device=self.mean.device)
        dims = [1, 2, 3]
        if other is None:
            return 0.5 * torch.sum(self.mean**2 + self.var - 1.0 - self.logvar, dim=dims)
        return 0.5 * torch.sum(
            (self.mean - other.mean) ** 2 / other.var
            + self.var / other.var
            - 1.0
            - self.logvar
            + other.logvar,
            dim=dims,
        )

    def nll(self, sample: torch.Tensor, dims: Sequence[int] = (1, 2, 3)) -> torch.Tensor:
        """Negative log-likelihood of `sample`, summed over `dims`."""
        if self.deterministic:
            return torch.zeros(self.mean.shape[0], device=self.mean.device)
        log_two_pi = 1.8378770664093453
        return 0.5 * torch.sum(
            log_two_pi + self.logvar + (sample - self.mean) ** 2 / self.var, dim=list(dims)
        )


__all__ = ["Decoder", "DiagonalGaussianDistribution", "Encoder"]
