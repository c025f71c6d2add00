"""UNet2DModel: the unconditional (optionally class-conditional) image U-Net."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pydantic
import torch
from torch import nn

from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin
from diffusekit.outputs import BaseOutput

from ._activation import ActivationName
from ._legacy_keys import DEPRECATED_ATTENTION_RENAMES, FOURIER_PROJECTION_RENAMES
from .attention_control import AttentionControlMixin
from .conv import Conv2d
from .embeddings import TimestepEmbedding, Timesteps
from .fourier import GaussianFourierProjection
from .normalization import GroupNorm
from .timestep_input import batch_timesteps, timestep_tensor
from .unet_2d_attn_blocks import (
    AttnDownBlock2D,
    AttnUpBlock2D,
    ResnetDownsampleBlock2D,
    ResnetUpsampleBlock2D,
)
from .unet_2d_blocks import DownBlock2D, UNetMidBlock2D, UpBlock2D
from .unet_2d_skip_blocks import (
    AttnSkipDownBlock2D,
    AttnSkipUpBlock2D,
    SkipDownBlock2D,
    SkipUpBlock2D,
)

DownBlock2DType = Literal[
    "DownBlock2D",
    "AttnDownBlock2D",
    "ResnetDownsampleBlock2D",
    "SkipDownBlock2D",
    "AttnSkipDownBlock2D",
]
UpBlock2DType = Literal[
    "UpBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D", "SkipUpBlock2D", "AttnSkipUpBlock2D"
]


class UNet2DConfig(BaseConfig):
    """Configuration of `UNet2DModel` (`config.json`); names and defaults are the reference's."""

    sample_size: int | tuple[int, int] | None = pydantic.Field(
        None, description="Height and width of samples (a multiple of 2**(blocks - 1))."
    )
    in_channels: int = 3
    out_channels: int = 3
    center_input_sample: bool = pydantic.Field(False, description="Map inputs x to 2x - 1.")
    time_embedding_type: Literal["positional", "fourier", "learned"] = "positional"
    time_embedding_dim: int | None = pydantic.Field(
        None, description="Width of the time embedding; default 4 * block_out_channels[0]."
    )
    freq_shift: float = 0
    flip_sin_to_cos: bool = True
    down_block_types: tuple[DownBlock2DType, ...] = (
        "DownBlock2D",
        "AttnDownBlock2D",
        "AttnDownBlock2D",
        "AttnDownBlock2D",
    )
    mid_block_type: Literal["UNetMidBlock2D"] | None = "UNetMidBlock2D"
    up_block_types: tuple[UpBlock2DType, ...] = (
        "AttnUpBlock2D",
        "AttnUpBlock2D",
        "AttnUpBlock2D",
        "UpBlock2D",
    )
    block_out_channels: tuple[int, ...] = (224, 448, 672, 896)
    layers_per_block: int = 2
    mid_block_scale_factor: float = 1
    downsample_padding: int = 1
    downsample_type: Literal["conv", "resnet"] = "conv"
    upsample_type: Literal["conv", "resnet"] = "conv"
    dropout: float = 0.0
    act_fn: ActivationName = "silu"
    attention_head_dim: int | None = pydantic.Field(
        8, description="Channels per attention head; None means one head."
    )
    norm_num_groups: int | None = pydantic.Field(
        32, description="Group-norm groups; None means min(channels // 4, 32)."
    )
    attn_norm_num_groups: int | None = None
    norm_eps: float = 1e-5
    resnet_time_scale_shift: Literal["default", "scale_shift"] = "default"
    add_attention: bool = True
    class_embed_type: Literal["timestep", "identity"] | None = None
    num_class_embeds: int | None = None
    num_train_timesteps: int | None = pydantic.Field(
        None, description="Table size for time_embedding_type='learned'."
    )

    @pydantic.model_validator(mode="after")
    def _check(self) -> UNet2DConfig:
        counts = {
            "down_block_types": len(self.down_block_types),
            "up_block_types": len(self.up_block_types),
            "block_out_channels": len(self.block_out_channels),
        }
        if len(set(counts.values())) != 1:
            raise ValueError(
                f"down_block_types, up_block_types and block_out_channels must have "
                f"the same length, found {counts}"
            )
        if self.time_embedding_type == "learned" and self.num_train_timesteps is None:
            raise ValueError("time_embedding_type 'learned' needs num_train_timesteps")
        return self


@dataclass
class UNet2DOutput(BaseOutput):
    """`sample`: (batch, out_channels, height, width)."""

    sample: torch.Tensor


@dataclass(frozen=True)
class _Block:
    """What a down or up block is built from: the model-wide settings plus its position."""

    in_channels: int
    out_channels: int
    temb_channels: int
    num_layers: int
    resample: bool
    config: Any
    prev_output_channel: int = 0

    def head_dim(self) -> int:
        head_dim = self.config.attention_head_dim
        return head_dim if head_dim is not None else self.out_channels

    def resnet_options(self) -> dict[str, Any]:
        c = self.config
        return {
            "num_layers": self.num_layers,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "temb_channels": self.temb_channels,
            "dropout": c.dropout,
            "resnet_eps": c.norm_eps,
            "resnet_act_fn": c.act_fn,
            "resnet_time_scale_shift": c.resnet_time_scale_shift,
        }


def _down(block: _Block, cls: type[nn.Module], **options: Any) -> nn.Module:
    return cls(**block.resnet_options(), **options)


def _up(block: _Block, cls: type[nn.Module], **options: Any) -> nn.Module:
    return cls(**block.resnet_options(), prev_output_channel=block.prev_output_channel, **options)


_DOWN_BLOCKS: dict[str, Callable[[_Block], nn.Module]] = {
    "DownBlock2D": lambda b: _down(
        b,
        DownBlock2D,
        add_downsample=b.resample,
        resnet_groups=b.config.norm_num_groups,
        downsample_padding=b.config.downsample_padding,
    ),
    "AttnDownBlock2D": lambda b: _down(
        b,
        AttnDownBlock2D,
        resnet_groups=b.config.norm_num_groups,
        downsample_padding=b.config.downsample_padding,
        attention_head_dim=b.head_dim(),
        downsample_type=b.config.downsample_type if b.resample else None,
    ),
    "ResnetDownsampleBlock2D": lambda b: _down(
        b,
        ResnetDownsampleBlock2D,
        add_downsample=b.resample,
        resnet_groups=b.config.norm_num_groups,
    ),
    "SkipDownBlock2D": lambda b: _down(b, SkipDownBlock2D, add_downsample=b.resample),
    "AttnSkipDownBlock2D": lambda b: _down(
        b, AttnSkipDownBlock2D, add_downsample=b.resample, attention_head_dim=b.head_dim()
    ),
}

_UP_BLOCKS: dict[str, Callable[[_Block], nn.Module]] = {
    "UpBlock2D": lambda b: _up(
        b, UpBlock2D, add_upsample=b.resample, resnet_groups=b.config.norm_num_groups
    ),
    "AttnUpBlock2D": lambda b: _up(
        b,
        AttnUpBlock2D,
        resnet_groups=b.config.norm_num_groups,
        attention_head_dim=b.head_dim(),
        upsample_type=b.config.upsample_type if b.resample else None,
    ),
    "ResnetUpsampleBlock2D": lambda b: _up(
        b, ResnetUpsampleBlock2D, add_upsample=b.resample, resnet_groups=b.config.norm_num_groups
    ),
    "SkipUpBlock2D": lambda b: _up(b, SkipUpBlock2D, add_upsample=b.resample),
    "AttnSkipUpBlock2D": lambda b: _up(
        b, AttnSkipUpBlock2D, add_upsample=b.resample, attention_head_dim=b.head_dim()
    ),
}


class UNet2DModel(AttentionControlMixin, ModelMixin):
    """A U-Net denoiser for images, conditioned on the diffusion time (and optionally a class).

    Ho et al., "Denoising Diffusion Probabilistic Models" (2020): a PixelCNN++-style U-Net of
    residual blocks with self-attention at chosen resolutions and a sinusoidal time embedding
    (Vaswani et al. 2017). With ``time_embedding_type="fourier"`` and the Skip blocks it is
    NCSN++ of Song et al., "Score-Based Generative Modeling through Stochastic Differential
    Equations" (2021): random Fourier features of log σ, FIR resampling, a progressive RGB
    skip path, and the output divided by σ. Rombach et al.'s unconditional latent diffusion
    ("High-Resolution Image Synthesis with Latent Diffusion Models", 2022) uses the plain form.
    """

    config_class = UNet2DConfig
    legacy_key_renames: ClassVar[tuple[tuple[str, str], ...]] = (
        DEPRECATED_ATTENTION_RENAMES + FOURIER_PROJECTION_RENAMES
    )

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        c = self.config
        width = c.block_out_channels[0]
        time_dim = c.time_embedding_dim or width * 4
        self.sample_size = c.sample_size
        self.conv_in = Conv2d(c.in_channels, width, kernel_size=3, padding=1)
        feature_dim = self._build_time_projection(c, width)
        self.time_embedding = TimestepEmbedding(feature_dim, time_dim)
        self.class_embedding = self._build_class_embedding(c, feature_dim, time_dim)
        self.down_blocks = self._build_down_blocks(c, time_dim)
        self.mid_block = self._build_mid_block(c, time_dim)
        self.up_blocks = self._build_up_blocks(c, time_dim)
        groups = c.norm_num_groups if c.norm_num_groups is not None else min(width // 4, 32)
        self.conv_norm_out = GroupNorm(num_channels=width, num_groups=groups, eps=c.norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = Conv2d(width, c.out_channels, kernel_size=3, padding=1)

    # ----------------------------------------------------------------------------- building

    def _build_time_projection(self, c: Any, width: int) -> int:
        if c.time_embedding_type == "fourier":
            self.time_proj: nn.Module = GaussianFourierProjection(embedding_size=width, scale=16)
            return 2 * width
        if c.time_embedding_type == "learned":
            self.time_proj = nn.Embedding(c.num_train_timesteps, width)
        else:
            self.time_proj = Timesteps(width, c.flip_sin_to_cos, c.freq_shift)
        return width

    @staticmethod
    def _build_class_embedding(c: Any, feature_dim: int, time_dim: int) -> nn.Module | None:
        if c.class_embed_type is None and c.num_class_embeds is not None:
            return nn.Embedding(c.num_class_embeds, time_dim)
        if c.class_embed_type == "timestep":
            return TimestepEmbedding(feature_dim, time_dim)
        if c.class_embed_type == "identity":
            return nn.Identity()
        return None

    @staticmethod
    def _build_down_blocks(c: Any, time_dim: int) -> nn.ModuleList:
        blocks = nn.ModuleList()
        channels = c.block_out_channels[0]
        last = len(c.block_out_channels) - 1
        for i, (kind, out) in enumerate(zip(c.down_block_types, c.block_out_channels)):
            spec = _Block(channels, out, time_dim, c.layers_per_block, i != last, c)
            blocks.append(_DOWN_BLOCKS[kind](spec))
            channels = out
        return blocks

    @staticmethod
    def _build_mid_block(c: Any, time_dim: int) -> nn.Module | None:
        if c.mid_block_type is None:
            return None
        channels = c.block_out_channels[-1]
        return UNetMidBlock2D(
            in_channels=channels,
            temb_channels=time_dim,
            dropout=c.dropout,
            resnet_eps=c.norm_eps,
            resnet_act_fn=c.act_fn,
            output_scale_factor=c.mid_block_scale_factor,
            resnet_time_scale_shift=c.resnet_time_scale_shift,
            attention_head_dim=c.attention_head_dim
            if c.attention_head_dim is not None
            else channels,
            resnet_groups=c.norm_num_groups,
            attn_groups=c.attn_norm_num_groups,
            add_attention=c.add_attention,
        )

    @staticmethod
    def _build_up_blocks(c: Any, time_dim: int) -> nn.ModuleList:
        channels = list(reversed(c.block_out_channels))
        last = len(channels) - 1
        blocks = nn.ModuleList()
        previous = channels[0]
        for i, kind in enumerate(c.up_block_types):
            spec = _Block(
                channels[min(i + 1, last)],
                channels[i],
                time_dim,
                c.layers_per_block + 1,
                i != last,
                c,
                prev_output_channel=previous,
            )
            blocks.append(_UP_BLOCKS[kind](spec))
            previous = channels[i]
        return blocks

    # ------------------------------------------------------------------------------ running

    def _embedding(
        self, timesteps: torch.Tensor, class_labels: torch.Tensor | None
    ) -> torch.Tensor:
        dtype = self.conv_in.weight.dtype
        emb = self.time_embedding(self.time_proj(timesteps).to(dtype))
        if self.class_embedding is None:
            if class_labels is not None:
                raise ValueError(
                    "UNet2DModel: class_labels were given but the model has no class embedding "
                    "(config: class_embed_type and num_class_embeds are unset)"
                )
            return emb
        if class_labels is None:
            raise ValueError("UNet2DModel: this model is class-conditional; pass class_labels")
        if self.config.class_embed_type == "timestep":
            class_labels = self.time_proj(class_labels).to(dtype)
        return emb + self.class_embedding(class_labels).to(dtype)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        class_labels: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> UNet2DOutput | tuple[torch.Tensor]:
        """Predict from the noisy `sample` (batch, channels, height, width) at `timestep`.

        `timestep` is a scalar or one value per sample: a step index (positional, learned) or
        the noise level σ (fourier). `class_labels` (batch,) for class-conditional models.
        """
        if self.config.center_input_sample:
            sample = 2 * sample - 1.0
        timesteps = batch_timesteps(timestep_tensor(timestep, sample), sample.shape[0])
        emb = self._embedding(timesteps, class_labels)

        skip_sample: torch.Tensor | float | None = sample
        sample = self.conv_in(sample)
        skips: list[torch.Tensor] = [sample]
        for block in self.down_blocks:
            if getattr(block, "carries_image_skip", False):
                sample, block_skips, skip_sample = block(sample, emb, skip_sample)
            else:
                sample, block_skips = block(hidden_states=sample, temb=emb)
            skips.extend(block_skips)

        if self.mid_block is not None:
            sample = self.mid_block(sample, emb)

        skip_sample = None
        for block in self.up_blocks:
            count = len(block.resnets)
            block_skips, skips = tuple(skips[-count:]), skips[:-count]
            if getattr(block, "carries_image_skip", False):
                sample, skip_sample = block(sample, block_skips, emb, skip_sample)
            else:
                sample = block(sample, block_skips, emb)

        sample = self.conv_out(self.conv_act(self.conv_norm_out(sample)))
        if skip_sample is not None:
            sample = sample + skip_sample
        if self.config.time_embedding_type == "fourier":
            sigma = timesteps.to(sample.dtype).reshape(-1, *([1] * (sample.ndim - 1)))
            sample = sample / sigma
        return UNet2DOutput(sample=sample) if return_dict else (sample,)


__all__ = ["UNet2DConfig", "UNet2DModel", "UNet2DOutput"]
