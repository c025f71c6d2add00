"""UNet2DConditionModel: the text-conditioned latent denoiser of Stable Diffusion and relatives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pydantic
import torch
from torch import nn

from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin
from diffusekit.outputs import BaseOutput

from ._activation import ActivationName, activation
from .attention_control import AttentionControlMixin
from .conv import Conv2d
from .embeddings import TimestepEmbedding, Timesteps
from .normalization import GroupNorm
from .timestep_input import timestep_tensor
from .unet_2d_blocks import (
    CrossAttnDownBlock2D,
    CrossAttnUpBlock2D,
    DownBlock2D,
    UNetMidBlock2D,
    UNetMidBlock2DCrossAttn,
    UpBlock2D,
)

DownBlockType = Literal["CrossAttnDownBlock2D", "DownBlock2D"]
UpBlockType = Literal["CrossAttnUpBlock2D", "UpBlock2D"]
LayerCounts = int | tuple[int | tuple[int, ...], ...]


class UNet2DConditionConfig(BaseConfig):
    """Configuration of `UNet2DConditionModel` (`config.json`); names and defaults are the
    reference's, so its files load unchanged. Per-block fields take one value or one per block.

    Naming quirk kept from the reference: `attention_head_dim` is the number of attention
    *heads* per block (each head has ``channels // heads`` dimensions), and
    `num_attention_heads` must stay unset.
    """

    sample_size: int | tuple[int, int] | None = None
    in_channels: int = 4
    out_channels: int = 4
    center_input_sample: bool = pydantic.Field(False, description="Map inputs x to 2x - 1.")
    flip_sin_to_cos: bool = True
    freq_shift: float = 0
    down_block_types: tuple[DownBlockType, ...] = (
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    )
    mid_block_type: Literal["UNetMidBlock2DCrossAttn", "UNetMidBlock2D"] | None = (
        "UNetMidBlock2DCrossAttn"
    )
    up_block_types: tuple[UpBlockType, ...] = (
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    )
    only_cross_attention: bool | tuple[bool, ...] = pydantic.Field(
        False, description="Self-attention layers attend to the context instead."
    )
    block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280)
    layers_per_block: int | tuple[int, ...] = 2
    downsample_padding: int = 1
    mid_block_scale_factor: float = 1
    dropout: float = 0.0
    act_fn: ActivationName = "silu"
    norm_num_groups: int | None = pydantic.Field(
        32, description="Group-norm groups; None drops the output norm."
    )
    norm_eps: float = 1e-5
    cross_attention_dim: int | tuple[int, ...] = pydantic.Field(
        1280, description="Width of the context (e.g. text encoder hidden size)."
    )
    transformer_layers_per_block: LayerCounts = 1
    reverse_transformer_layers_per_block: tuple[tuple[int, ...], ...] | None = None
    encoder_hid_dim: int | None = pydantic.Field(
        None,
        description="Context width before an `encoder_hid_proj` Linear to cross_attention_dim.",
    )
    encoder_hid_dim_type: Literal["text_proj"] | None = None
    attention_head_dim: int | tuple[int, ...] = pydantic.Field(
        8, description="Number of attention heads per block (the reference's naming)."
    )
    num_attention_heads: int | tuple[int, ...] | None = None
    dual_cross_attention: Literal[False] = False
    use_linear_projection: bool = pydantic.Field(
        False, description="Transformer in/out projections are Linear (SD 2.x), not 1x1 conv."
    )
    class_embed_type: Literal["timestep", "identity", "projection", "simple_projection"] | None = (
        None
    )
    addition_embed_type: Literal["text_time"] | None = pydantic.Field(
        None, description="'text_time': add pooled text embeds + sinusoids of time_ids (SDXL)."
    )
    addition_time_embed_dim: int | None = None
    num_class_embeds: int | None = pydantic.Field(
        None, description="With class_embed_type None: an nn.Embedding of this many classes."
    )
    upcast_attention: bool = pydantic.Field(
        False, description="Compute attention scores in float32 (SD 2.x in half precision)."
    )
    resnet_time_scale_shift: Literal["default", "scale_shift"] = "default"
    resnet_skip_time_act: bool = False
    resnet_out_scale_factor: float = 1.0
    time_embedding_type: Literal["positional"] = "positional"
    time_embedding_dim: int | None = None
    time_embedding_act_fn: ActivationName | None = None
    timestep_post_act: ActivationName | None = None
    time_cond_proj_dim: int | None = None
    conv_in_kernel: int = 3
    conv_out_kernel: int = 3
    projection_class_embeddings_input_dim: int | None = None
    attention_type: Literal["default"] = "default"
    class_embeddings_concat: bool = False
    mid_block_only_cross_attention: bool | None = None
    cross_attention_norm: Literal[None] = None
    addition_embed_type_num_heads: int = 64

    @pydantic.model_validator(mode="after")
    def _check(self) -> UNet2DConditionConfig:
        blocks = len(self.down_block_types)
        _same_length("up_block_types", self.up_block_types, blocks)
        _same_length("block_out_channels", self.block_out_channels, blocks)
        for name in (
            "only_cross_attention",
            "attention_head_dim",
            "cross_attention_dim",
            "layers_per_block",
            "transformer_layers_per_block",
        ):
            value = getattr(self, name)
            if isinstance(value, tuple):
                _same_length(name, value, blocks)
        if self.num_attention_heads is not None:
            raise ValueError(
                "num_attention_heads must stay unset: as in the reference, attention_head_dim "
                "gives the number of heads per block"
            )
        if self.addition_embed_type == "text_time" and None in (
            self.addition_time_embed_dim,
            self.projection_class_embeddings_input_dim,
        ):
            raise ValueError(
                "addition_embed_type 'text_time' needs addition_time_embed_dim and "
                "projection_class_embeddings_input_dim"
            )
        if (
            self.class_embed_type in ("projection", "simple_projection")
            and self.projection_class_embeddings_input_dim is None
        ):
            raise ValueError(
                f"class_embed_type {self.class_embed_type!r} needs "
                "projection_class_embeddings_input_dim"
            )
        if self.encoder_hid_dim is not None and self.encoder_hid_dim_type is None:
            self.encoder_hid_dim_type = "text_proj"
        if self.encoder_hid_dim_type is not None and self.encoder_hid_dim is None:
            raise ValueError("encoder_hid_dim_type 'text_proj' needs encoder_hid_dim")
        return self


def _same_length(name: str, value: Sequence[Any], expected: int) -> None:
    if len(value) != expected:
        raise ValueError(
            f"{name} has {len(value)} entries but down_block_types has {expected}; they must match"
        )


def _per_block(value: Any, blocks: int) -> list[Any]:
    return list(value) if isinstance(value, (tuple, list)) else [value] * blocks


@dataclass
class UNet2DConditionOutput(BaseOutput):
    """`sample`: the prediction, (batch, out_channels, height, width)."""

    sample: torch.Tensor


class UNet2DConditionModel(AttentionControlMixin, ModelMixin):
    """A U-Net denoiser conditioned on time and a context sequence through cross-attention.

    Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models" (2022):
    residual blocks with time embedding, and spatial transformers attending to the text
    encoder's states at the coarser resolutions. ``addition_embed_type="text_time"`` adds the
    pooled-text and size/crop conditioning of Podell et al., "SDXL" (2023); class embeddings
    condition the x4 upscaler on its noise level.
    """

    config_class = UNet2DConditionConfig

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        c = self.config
        widths = list(c.block_out_channels)
        self.sample_size = c.sample_size
        self.conv_in = Conv2d(
            c.in_channels, widths[0], c.conv_in_kernel, padding=(c.conv_in_kernel - 1) // 2
        )
        time_dim = c.time_embedding_dim or widths[0] * 4
        self.time_proj = Timesteps(widths[0], c.flip_sin_to_cos, c.freq_shift)
        self.time_embedding = TimestepEmbedding(
            widths[0],
            time_dim,
            act_fn=c.act_fn,
            post_act_fn=c.timestep_post_act,
            cond_proj_dim=c.time_cond_proj_dim,
        )
        self.encoder_hid_proj = (
            nn.Linear(c.encoder_hid_dim, c.cross_attention_dim)
            if c.encoder_hid_dim_type == "text_proj"
            else None
        )
        self.class_embedding = self._class_embedding(c, widths[0], time_dim)
        if c.addition_embed_type == "text_time":
            self.add_time_proj = Timesteps(
                c.addition_time_embed_dim, c.flip_sin_to_cos, c.freq_shift
            )
            self.add_embedding = TimestepEmbedding(
                c.projection_class_embeddings_input_dim, time_dim
            )
        self.time_embed_act = (
            activation(c.time_embedding_act_fn) if c.time_embedding_act_fn is not None else None
        )
        block_time_dim = time_dim * 2 if c.class_embeddings_concat else time_dim
        plan = _BlockPlan.from_config(c)
        self.down_blocks = nn.ModuleList(plan.down(i, block_time_dim) for i in range(plan.blocks))
        self.mid_block = plan.mid(block_time_dim)
        self.up_blocks = nn.ModuleList(plan.up(i, block_time_dim) for i in range(plan.blocks))
        self.num_upsamplers = plan.blocks - 1
        self.conv_norm_out: GroupNorm | None = None
        self.conv_act: nn.Module | None = None
        if c.norm_num_groups is not None:
            self.conv_norm_out = GroupNorm(
                num_channels=widths[0], num_groups=c.norm_num_groups, eps=c.norm_eps
            )
            self.conv_act = activation(c.act_fn)
        self.conv_out = Conv2d(
            widths[0], c.out_channels, c.conv_out_kernel, padding=(c.conv_out_kernel - 1) // 2
        )

    @staticmethod
    def _class_embedding(c: Any, feature_dim: int, time_dim: int) -> nn.Module | None:
        if c.class_embed_type is None and c.num_class_embeds is not None:
            return nn.Embedding(c.num_class_embeds, time_dim)
        if c.class_embed_type == "timestep":
            return TimestepEmbedding(feature_dim, time_dim, act_fn=c.act_fn)
        if c.class_embed_type == "identity":
            return nn.Identity()
        if c.class_embed_type == "projection":
            return TimestepEmbedding(c.projection_class_embeddings_input_dim, time_dim)
        if c.class_embed_type == "simple_projection":
            return nn.Linear(c.projection_class_embeddings_input_dim, time_dim)
        return None

    # ------------------------------------------------------------------------ embeddings

    def _time_embedding(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        timestep_cond: torch.Tensor | None,
    ) -> torch.Tensor:
        timesteps = timestep_tensor(timestep, sample).expand(sample.shape[0])
        features = self.time_proj(timesteps).to(dtype=sample.dtype)
        return self.time_embedding(features, timestep_cond)

    def _class_embed(
        self, sample: torch.Tensor, class_labels: torch.Tensor | None
    ) -> torch.Tensor | None:
        if self.class_embedding is None:
            return None
        if class_labels is None:
            raise ValueError(
                "UNet2DConditionModel: this model has a class embedding "
                f"(class_embed_type={self.config.class_embed_type!r}, "
                f"num_class_embeds={self.config.num_class_embeds}); pass class_labels"
            )
        if self.config.class_embed_type == "timestep":
            class_labels = self.time_proj(class_labels).to(dtype=sample.dtype)
        return self.class_embedding(class_labels).to(dtype=sample.dtype)

    def _added_embedding(
        self, emb: torch.Tensor, added_cond_kwargs: Mapping[str, torch.Tensor] | None
    ) -> torch.Tensor | None:
        if self.config.addition_embed_type != "text_time":
            return None
        missing = [k for k in ("text_embeds", "time_ids") if k not in (added_cond_kwargs or {})]
        if missing:
            raise ValueError(
                f"UNet2DConditionModel with addition_embed_type 'text_time' needs "
                f"added_cond_kwargs with {missing}"
            )
        assert added_cond_kwargs is not None
        text_embeds = added_cond_kwargs["text_embeds"]
        time_embeds = self.add_time_proj(added_cond_kwargs["time_ids"].flatten())
        time_embeds = time_embeds.reshape(text_embeds.shape[0], -1)
        return self.add_embedding(torch.cat([text_embeds, time_embeds], dim=-1).to(emb.dtype))

    def _embedding(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        class_labels: torch.Tensor | None,
        timestep_cond: torch.Tensor | None,
        added_cond_kwargs: Mapping[str, torch.Tensor] | None,
    ) -> torch.Tensor:
        emb = self._time_embedding(sample, timestep, timestep_cond)
        class_emb = self._class_embed(sample, class_labels)
        if class_emb is not None:
            if self.config.class_embeddings_concat:
                emb = torch.cat([emb, class_emb], dim=-1)
            else:
                emb = emb + class_emb
        added = self._added_embedding(emb, added_cond_kwargs)
        if added is not None:
            emb = emb + added
        return self.time_embed_act(emb) if self.time_embed_act is not None else emb

    # --------------------------------------------------------------------------- forward

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        class_labels: torch.Tensor | None = None,
        timestep_cond: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
        added_cond_kwargs: dict[str, torch.Tensor] | None = None,
        down_block_additional_residuals: tuple[torch.Tensor, ...] | None = None,
        mid_block_additional_residual: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> UNet2DConditionOutput | tuple[torch.Tensor]:
        """Predict noise (or v, per the scheduler) for `sample` at `timestep`.

        Shapes: `sample` (batch, in_channels, H, W); `timestep` scalar or (batch,);
        `encoder_hidden_states` (batch, tokens, cross_attention_dim). Masks are (batch, tokens)
        with 1 = keep, 0 = ignore. `added_cond_kwargs` holds ``text_embeds`` and ``time_ids``
        for ``text_time`` models. `cross_attention_kwargs` reach every attention processor
        call as keyword arguments. The additional residuals are ControlNet's: one per skip
        connection, and one for the middle block.
        """
        up_factor = 2**self.num_upsamplers
        pass_sizes = any(size % up_factor != 0 for size in sample.shape[-2:])
        attention_mask = _mask_bias(attention_mask, sample.dtype)
        encoder_attention_mask = _mask_bias(encoder_attention_mask, sample.dtype)
        if self.config.center_input_sample:
            sample = 2 * sample - 1.0
        emb = self._embedding(sample, timestep, class_labels, timestep_cond, added_cond_kwargs)
        if self.encoder_hid_proj is not None:
            encoder_hidden_states = self.encoder_hid_proj(encoder_hidden_states)
        context = _Context(
            encoder_hidden_states, attention_mask, encoder_attention_mask, cross_attention_kwargs
        )

        sample = self.conv_in(sample)
        skips: list[torch.Tensor] = [sample]
        for block in self.down_blocks:
            sample, block_skips = context.run_down(block, sample, emb)
            skips.extend(block_skips)
        if down_block_additional_residuals is not None:
            skips = [s + r for s, r in zip(skips, down_block_additional_residuals)]

        if self.mid_block is not None:
            sample = context.run_mid(self.mid_block, sample, emb)
        if mid_block_additional_residual is not None:
            sample = sample + mid_block_additional_residual

        last = len(self.up_blocks) - 1
        for i, block in enumerate(self.up_blocks):
            count = len(block.resnets)
            block_skips, skips = tuple(skips[-count:]), skips[:-count]
            size = tuple(skips[-1].shape[2:]) if pass_sizes and i != last else None
            sample = context.run_up(block, sample, block_skips, emb, size)

        if self.conv_norm_out is not None:
            sample = self.conv_act(self.conv_norm_out(sample))
        sample = self.conv_out(sample)
        return UNet2DConditionOutput(sample=sample) if return_dict else (sample,)


def _mask_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A (batch, tokens) keep-mask -> an additive (batch, 1, tokens) bias (-10000 = ignore)."""
    if mask is None:
        return None
    return ((1 - mask.to(dtype)) * -10000.0).unsqueeze(1)


@dataclass
class _Context:
    """What the cross-attention blocks receive besides features and time embedding."""

    states: torch.Tensor | None
    mask: torch.Tensor | None
    encoder_mask: torch.Tensor | None
    attention_kwargs: dict[str, Any] | None

    def _extras(self) -> tuple[Any, ...]:
        return (self.states, self.mask, self.encoder_mask, self.attention_kwargs)

    def _attends(self, block: nn.Module) -> bool:
        return isinstance(
            block, (CrossAttnDownBlock2D, CrossAttnUpBlock2D, UNetMidBlock2DCrossAttn)
        )

    def run_down(
        self, block: nn.Module, sample: torch.Tensor, emb: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        if self._attends(block):
            return block(sample, emb, *self._extras())
        return block(sample, emb)

    def run_mid(self, block: nn.Module, sample: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if self._attends(block):
            return block(sample, emb, *self._extras())
        return block(sample, emb)

    def run_up(
        self,
        block: nn.Module,
        sample: torch.Tensor,
        skips: tuple[torch.Tensor, ...],
        emb: torch.Tensor,
        size: tuple[int, ...] | None,
    ) -> torch.Tensor:
        if self._attends(block):
            states, mask, encoder_mask, options = self._extras()
            return block(sample, skips, emb, states, size, mask, encoder_mask, options)
        return block(sample, skips, emb, size)


@dataclass
class _BlockPlan:
    """Per-block settings of a config, resolved once (ints broadcast to every block)."""

    c: Any
    blocks: int
    widths: list[int]
    heads: list[int]
    cross_dims: list[int]
    layers: list[int]
    transformer_layers: list[Any]
    reverse_transformer_layers: list[Any]
    only_cross: list[bool]

    @classmethod
    def from_config(cls, c: Any) -> _BlockPlan:
        blocks = len(c.down_block_types)
        transformer_layers = _per_block(c.transformer_layers_per_block, blocks)
        reverse = c.reverse_transformer_layers_per_block
        return cls(
            c=c,
            blocks=blocks,
            widths=list(c.block_out_channels),
            heads=_per_block(c.attention_head_dim, blocks),
            cross_dims=_per_block(c.cross_attention_dim, blocks),
            layers=_per_block(c.layers_per_block, blocks),
            transformer_layers=transformer_layers,
            reverse_transformer_layers=(
                list(reversed(transformer_layers)) if reverse is None else list(reverse)
            ),
            only_cross=_per_block(c.only_cross_attention, blocks),
        )

    def _resnet_options(self, temb: int) -> dict[str, Any]:
        c = self.c
        return {
            "temb_channels": temb,
            "dropout": c.dropout,
            "resnet_eps": c.norm_eps,
            "resnet_act_fn": c.act_fn,
            "resnet_groups": c.norm_num_groups,
            "resnet_time_scale_shift": c.resnet_time_scale_shift,
        }

    def _attention_options(self, block: int, reverse: bool) -> dict[str, Any]:
        index = self.blocks - 1 - block if reverse else block
        layers = (
            self.reverse_transformer_layers[block] if reverse else self.transformer_layers[block]
        )
        return {
            "transformer_layers_per_block": layers,
            "num_attention_heads": self.heads[index],
            "cross_attention_dim": self.cross_dims[index],
            "use_linear_projection": self.c.use_linear_projection,
            "only_cross_attention": self.only_cross[index],
            "upcast_attention": self.c.upcast_attention,
        }

    def down(self, i: int, temb: int) -> nn.Module:
        kind = self.c.down_block_types[i]
        options = self._resnet_options(temb)
        options.update(
            in_channels=self.widths[max(i - 1, 0)],
            out_channels=self.widths[i],
            num_layers=self.layers[i],
            add_downsample=i != self.blocks - 1,
            downsample_padding=self.c.downsample_padding,
        )
        if kind == "CrossAttnDownBlock2D":
            return CrossAttnDownBlock2D(**options, **self._attention_options(i, reverse=False))
        return DownBlock2D(**options)

    def mid(self, temb: int) -> nn.Module | None:
        c = self.c
        if c.mid_block_type is None:
            return None
        options = self._resnet_options(temb)
        options.update(in_channels=self.widths[-1], output_scale_factor=c.mid_block_scale_factor)
        if c.mid_block_type == "UNetMidBlock2D":
            return UNetMidBlock2D(**options, num_layers=0, add_attention=False)
        attention = self._attention_options(self.blocks - 1, reverse=False)
        attention.pop("only_cross_attention")
        return UNetMidBlock2DCrossAttn(**options, **attention)

    def up(self, i: int, temb: int) -> nn.Module:
        kind = self.c.up_block_types[i]
        widths = list(reversed(self.widths))
        options = self._resnet_options(temb)
        options.update(
            in_channels=widths[min(i + 1, self.blocks - 1)],
            out_channels=widths[i],
            prev_output_channel=widths[max(i - 1, 0)],
            num_layers=self.layers[self.blocks - 1 - i] + 1,
            add_upsample=i != self.blocks - 1,
            resolution_idx=i,
        )
        if kind == "CrossAttnUpBlock2D":
            return CrossAttnUpBlock2D(**options, **self._attention_options(i, reverse=True))
        return UpBlock2D(**options)


__all__ = ["UNet2DConditionConfig", "UNet2DConditionModel", "UNet2DConditionOutput"]
