"""UNet1DModel: the 1D U-Net of Dance Diffusion and of diffusion planners."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pydantic
import torch
from torch import nn

from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin
from diffusekit.outputs import BaseOutput

from ._activation import ActivationName
from .embeddings import TimestepEmbedding, Timesteps
from .fourier import GaussianFourierProjection
from .timestep_input import timestep_tensor
from .unet_1d_blocks import (
    AttnDownBlock1D,
    AttnUpBlock1D,
    DownBlock1D,
    DownBlock1DNoSkip,
    UNetMidBlock1D,
    UpBlock1D,
    UpBlock1DNoSkip,
)
from .unet_1d_temporal_blocks import (
    DownResnetBlock1D,
    MidResTemporalBlock1D,
    OutConv1DBlock,
    OutValueFunctionBlock,
    UpResnetBlock1D,
    ValueFunctionMidBlock1D,
)

DownBlock1DType = Literal[
    "DownResnetBlock1D", "DownBlock1D", "AttnDownBlock1D", "DownBlock1DNoSkip"
]
UpBlock1DType = Literal["UpResnetBlock1D", "UpBlock1D", "AttnUpBlock1D", "UpBlock1DNoSkip"]
MidBlock1DType = Literal["MidResTemporalBlock1D", "ValueFunctionMidBlock1D", "UNetMidBlock1D"]
OutBlock1DType = Literal["OutConv1DBlock", "ValueFunction"]


class UNet1DConfig(BaseConfig):
    """Configuration of `UNet1DModel` (`config.json`); names and defaults are the reference's."""

    sample_size: int = pydantic.Field(65536, description="Default length of a sample.")
    sample_rate: int | None = pydantic.Field(None, description="Audio sample rate (Hz), if audio.")
    in_channels: int = 2
    out_channels: int = 2
    extra_in_channels: int = pydantic.Field(
        0, description="Channels added to the first block's input (the concatenated time features)."
    )
    time_embedding_type: Literal["fourier", "positional"] = "fourier"
    time_embedding_dim: int | None = pydantic.Field(
        None, description="Width of the time features; see `UNet1DModel` for the default."
    )
    flip_sin_to_cos: bool = True
    use_timestep_embedding: bool = pydantic.Field(
        False, description="Pass the time features through an MLP (planner U-Nets)."
    )
    freq_shift: float = 0.0
    down_block_types: tuple[DownBlock1DType, ...] = (
        "DownBlock1DNoSkip",
        "DownBlock1D",
        "AttnDownBlock1D",
    )
    up_block_types: tuple[UpBlock1DType, ...] = ("AttnUpBlock1D", "UpBlock1D", "UpBlock1DNoSkip")
    mid_block_type: MidBlock1DType = "UNetMidBlock1D"
    out_block_type: OutBlock1DType | None = None
    block_out_channels: tuple[int, ...] = (32, 32, 64)
    act_fn: ActivationName | None = None
    norm_num_groups: int | None = 8
    layers_per_block: int = 1
    downsample_each_block: bool = False

    @pydantic.model_validator(mode="after")
    def _check_block_counts(self) -> UNet1DConfig:
        if len(self.down_block_types) != len(self.block_out_channels):
            raise ValueError(
                f"down_block_types has {len(self.down_block_types)} entries but "
                f"block_out_channels has {len(self.block_out_channels)}; they must match"
            )
        if len(self.up_block_types) > len(self.block_out_channels):
            raise ValueError(
                f"up_block_types has {len(self.up_block_types)} entries, more than the "
                f"{len(self.block_out_channels)} of block_out_channels"
            )
        odd = self.time_embedding_dim is not None and self.time_embedding_dim % 2
        if odd and self.time_embedding_type == "fourier":
            raise ValueError(
                f"time_embedding_dim must be even for Fourier features, found "
                f"{self.time_embedding_dim}"
            )
        if self.use_timestep_embedding and self.act_fn is None:
            raise ValueError("use_timestep_embedding needs act_fn (the MLP's activation)")
        if self.out_block_type is not None and self.act_fn is None:
            raise ValueError(f"out_block_type {self.out_block_type!r} needs act_fn")
        return self


@dataclass
class UNet1DOutput(BaseOutput):
    """`sample`: (batch, channels, length), or (batch, 1) for a value function."""

    sample: torch.Tensor


@dataclass(frozen=True)
class _BlockSpec:
    in_channels: int
    out_channels: int
    temb_channels: int
    num_layers: int
    resample: bool


_DOWN_BLOCKS: dict[str, Callable[[_BlockSpec], nn.Module]] = {
    "DownResnetBlock1D": lambda s: DownResnetBlock1D(
        s.in_channels, s.out_channels, s.num_layers, s.temb_channels, add_downsample=s.resample
    ),
    "DownBlock1D": lambda s: DownBlock1D(s.out_channels, s.in_channels),
    "AttnDownBlock1D": lambda s: AttnDownBlock1D(s.out_channels, s.in_channels),
    "DownBlock1DNoSkip": lambda s: DownBlock1DNoSkip(s.out_channels, s.in_channels),
}

_UP_BLOCKS: dict[str, Callable[[_BlockSpec], nn.Module]] = {
    "UpResnetBlock1D": lambda s: UpResnetBlock1D(
        s.in_channels, s.out_channels, s.num_layers, s.temb_channels, add_upsample=s.resample
    ),
    "UpBlock1D": lambda s: UpBlock1D(s.in_channels, s.out_channels),
    "AttnUpBlock1D": lambda s: AttnUpBlock1D(s.in_channels, s.out_channels),
    "UpBlock1DNoSkip": lambda s: UpBlock1DNoSkip(s.in_channels, s.out_channels),
}

_MID_BLOCKS: dict[str, Callable[[_BlockSpec], nn.Module]] = {
    "MidResTemporalBlock1D": lambda s: MidResTemporalBlock1D(
        s.in_channels, s.out_channels, s.temb_channels, s.num_layers, add_downsample=s.resample
    ),
    "ValueFunctionMidBlock1D": lambda s: ValueFunctionMidBlock1D(
        s.in_channels, s.out_channels, s.temb_channels
    ),
    "UNetMidBlock1D": lambda s: UNetMidBlock1D(s.out_channels, s.in_channels, s.out_channels),
}


class UNet1DModel(ModelMixin):
    """A U-Net over 1D signals (audio, trajectories), conditioned on the diffusion time.

    Dance Diffusion (Harmonai; v-diffusion by K. Crowson) feeds random Fourier features of
    ``t`` (Tancik et al. 2020) as extra input channels of the first block; diffusion planners
    (Janner et al., "Planning with Diffusion for Flexible Behavior Synthesis", 2022) embed a
    sinusoidal time (Vaswani et al. 2017) with an MLP and add it inside each residual block.

    Width of the Fourier features when ``time_embedding_dim`` is unset: the reference uses
    ``2 * block_out_channels[0]``, which only runs when the first block's concatenated input
    then has ``in_channels + extra_in_channels`` channels. When the first block is
    ``DownBlock1DNoSkip`` and the time features are concatenated (no MLP), the width here is
    ``extra_in_channels`` instead: the same number whenever the reference runs, and the one
    Dance Diffusion checkpoints (``extra_in_channels=16``, an 8-frequency projection) were
    trained with, which the reference can no longer load.
    """

    config_class = UNet1DConfig
    sample_size: int

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        c = self.config
        self.sample_size = c.sample_size
        width = c.block_out_channels[0]
        feature_dim = self._build_time_features(c, width)
        if c.use_timestep_embedding:
            self.time_mlp = TimestepEmbedding(
                feature_dim, width * 4, act_fn=c.act_fn, out_dim=width
            )
        self.down_blocks = self._build_down_blocks(c)
        self.mid_block = _MID_BLOCKS[c.mid_block_type](
            _BlockSpec(
                c.block_out_channels[-1],
                c.block_out_channels[-1],
                width,
                c.layers_per_block,
                c.downsample_each_block,
            )
        )
        self.up_blocks = self._build_up_blocks(c)
        self.out_block = self._build_out_block(c)

    def _fourier_width(self, c: Any) -> int:
        if c.time_embedding_dim is not None:
            return c.time_embedding_dim
        concatenated = c.down_block_types[0] == "DownBlock1DNoSkip" and not c.use_timestep_embedding
        if concatenated and c.extra_in_channels > 0:
            return c.extra_in_channels
        return c.block_out_channels[0] * 2

    def _build_time_features(self, c: Any, width: int) -> int:
        if c.time_embedding_type == "fourier":
            dim = self._fourier_width(c)
            if dim % 2:
                raise ValueError(f"UNet1DModel: Fourier feature width must be even, found {dim}")
            self.time_proj: nn.Module = GaussianFourierProjection(
                embedding_size=dim // 2, log=False, flip_sin_to_cos=c.flip_sin_to_cos
            )
            return dim
        self.time_proj = Timesteps(width, c.flip_sin_to_cos, c.freq_shift)
        return width

    def _build_down_blocks(self, c: Any) -> nn.ModuleList:
        blocks = nn.ModuleList()
        channels = c.in_channels + c.extra_in_channels
        last = len(c.block_out_channels) - 1
        for i, (kind, out) in enumerate(zip(c.down_block_types, c.block_out_channels)):
            spec = _BlockSpec(
                channels,
                out,
                c.block_out_channels[0],
                c.layers_per_block,
                resample=i != last or c.downsample_each_block,
            )
            blocks.append(_DOWN_BLOCKS[kind](spec))
            channels = out
        return blocks

    def _build_up_blocks(self, c: Any) -> nn.ModuleList:
        reversed_channels = list(reversed(c.block_out_channels))
        final = c.out_channels if c.out_block_type is None else c.block_out_channels[0]
        blocks = nn.ModuleList()
        channels = reversed_channels[0]
        count = len(c.up_block_types)
        for i, kind in enumerate(c.up_block_types):
            out = reversed_channels[i + 1] if i < count - 1 else final
            spec = _BlockSpec(
                channels,
                out,
                c.block_out_channels[0],
                c.layers_per_block,
                resample=i != len(c.block_out_channels) - 1,
            )
            blocks.append(_UP_BLOCKS[kind](spec))
            channels = out
        return blocks

    def _build_out_block(self, c: Any) -> nn.Module | None:
        width = c.block_out_channels[0]
        if c.out_block_type == "OutConv1DBlock":
            groups = c.norm_num_groups if c.norm_num_groups is not None else min(width // 4, 32)
            return OutConv1DBlock(groups, c.out_channels, width, c.act_fn)
        if c.out_block_type == "ValueFunction":
            return OutValueFunctionBlock(c.block_out_channels[-1] // 4, width, c.act_fn)
        return None

    def _time_features(self, timestep: torch.Tensor | float | int, sample: torch.Tensor):
        features = self.time_proj(timestep_tensor(timestep, sample))
        if self.config.use_timestep_embedding:
            return self.time_mlp(features.to(sample.dtype))
        features = features[..., None].to(sample.dtype)
        return features.expand(sample.shape[0], -1, sample.shape[2])

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        return_dict: bool = True,
    ) -> UNet1DOutput | tuple[torch.Tensor]:
        """Denoise `sample` (batch, channels, length) at `timestep` (scalar or one per sample)."""
        temb = self._time_features(timestep, sample)
        skips: list[torch.Tensor] = []
        for block in self.down_blocks:
            sample, block_skips = block(hidden_states=sample, temb=temb)
            skips.extend(block_skips)
        sample = self.mid_block(sample, temb)
        for block in self.up_blocks:
            sample = block(sample, res_hidden_states_tuple=(skips.pop(),), temb=temb)
        if self.out_block is not None:
            sample = self.out_block(sample, temb)
        return UNet1DOutput(sample=sample) if return_dict else (sample,)


__all__ = ["UNet1DConfig", "UNet1DModel", "UNet1DOutput"]
