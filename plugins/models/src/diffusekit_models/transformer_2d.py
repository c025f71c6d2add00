"""The spatial transformer of latent diffusion: self-attention, cross-attention to text, MLP.

Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models" (2022), §3.3:
feature maps are flattened to tokens, pass through transformer blocks that attend to the
conditioning sequence (e.g. CLIP text states), and are added back to the input.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from .attention import Attention
from .conv import Conv2d
from .feed_forward import FeedForward, FeedForwardActivation
from .normalization import GroupNorm


class BasicTransformerBlock(nn.Module):
    """Pre-norm block: x += attn1(norm1(x)); x += attn2(norm2(x), context); x += ff(norm3(x)).

    `only_cross_attention` makes attn1 attend to the context too; `double_self_attention`
    makes attn2 a second self-attention.
    """

    def __init__(
        self,
        dim: int,
        num_attention_heads: int,
        attention_head_dim: int,
        dropout: float = 0.0,
        cross_attention_dim: int | None = None,
        activation_fn: FeedForwardActivation = "geglu",
        attention_bias: bool = False,
        only_cross_attention: bool = False,
        double_self_attention: bool = False,
        upcast_attention: bool = False,
        norm_elementwise_affine: bool = True,
        norm_eps: float = 1e-5,
        final_dropout: bool = False,
        ff_inner_dim: int | None = None,
        ff_bias: bool = True,
        attention_out_bias: bool = True,
    ) -> None:
        super().__init__()
        self.only_cross_attention = only_cross_attention
        common = {
            "heads": num_attention_heads,
            "dim_head": attention_head_dim,
            "dropout": dropout,
            "bias": attention_bias,
            "upcast_attention": upcast_attention,
            "out_bias": attention_out_bias,
        }
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps, elementwise_affine=norm_elementwise_affine)
        self.attn1 = Attention(
            dim, cross_attention_dim=cross_attention_dim if only_cross_attention else None, **common
        )
        self.norm2: nn.LayerNorm | None = None
        self.attn2: Attention | None = None
        if cross_attention_dim is not None or double_self_attention:
            self.norm2 = nn.LayerNorm(dim, eps=norm_eps, elementwise_affine=norm_elementwise_affine)
            self.attn2 = Attention(
                dim,
                cross_attention_dim=None if double_self_attention else cross_attention_dim,
                **common,
            )
        self.norm3 = nn.LayerNorm(dim, eps=norm_eps, elementwise_affine=norm_elementwise_affine)
        self.ff = FeedForward(
            dim,
            dropout=dropout,
            activation_fn=activation_fn,
            final_dropout=final_dropout,
            inner_dim=ff_inner_dim,
            bias=ff_bias,
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
    ) -> torch.Tensor:
        options = cross_attention_kwargs or {}
        context = encoder_hidden_states if self.only_cross_attention else None
        attended = self.attn1(
            self.norm1(hidden_states),
            encoder_hidden_states=context,
            attention_mask=attention_mask,
            **options,
        )
        hidden_states = attended + hidden_states
        if self.attn2 is not None:
            attended = self.attn2(
                self.norm2(hidden_states),
                encoder_hidden_states=encoder_hidden_states,
                attention_mask=encoder_attention_mask,
                **options,
            )
            hidden_states = attended + hidden_states
        return self.ff(self.norm3(hidden_states)).add_(hidden_states)


class Transformer2DModel(nn.Module):
    """GroupNorm -> proj_in -> transformer blocks on (H*W) tokens -> proj_out, plus the input.

    `use_linear_projection` projects with Linear layers on tokens (SD 2.x) instead of 1x1
    convolutions on the map (SD 1.x); the weights' shapes differ accordingly.
    Only continuous (feature-map) inputs are supported.
    """

    def __init__(
        self,
        num_attention_heads: int = 16,
        attention_head_dim: int = 88,
        in_channels: int | None = None,
        out_channels: int | None = None,
        num_layers: int = 1,
        dropout: float = 0.0,
        norm_num_groups: int = 32,
        cross_attention_dim: int | None = None,
        attention_bias: bool = False,
        activation_fn: FeedForwardActivation = "geglu",
        use_linear_projection: bool = False,
        only_cross_attention: bool = False,
        double_self_attention: bool = False,
        upcast_attention: bool = False,
        norm_type: Literal["layer_norm"] = "layer_norm",
        norm_elementwise_affine: bool = True,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if in_channels is None:
            raise ValueError(
                "Transformer2DModel: only continuous inputs are supported; set in_channels"
            )
        if norm_type != "layer_norm":
            raise ValueError(
                f"Transformer2DModel: norm_type must be 'layer_norm', found {norm_type!r}"
            )
        inner_dim = num_attention_heads * attention_head_dim
        self.in_channels = in_channels
        self.out_channels = out_channels or in_channels
        self.use_linear_projection = use_linear_projection
        self.norm = GroupNorm(num_groups=norm_num_groups, num_channels=in_channels, eps=1e-6)
        if use_linear_projection:
            self.proj_in: nn.Module = nn.Linear(in_channels, inner_dim)
            self.proj_out: nn.Module = nn.Linear(inner_dim, self.out_channels)
        else:
            self.proj_in = Conv2d(in_channels, inner_dim, kernel_size=1)
            self.proj_out = Conv2d(inner_dim, self.out_channels, kernel_size=1)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(
                inner_dim,
                num_attention_heads,
                attention_head_dim,
                dropout=dropout,
                cross_attention_dim=cross_attention_dim,
                activation_fn=activation_fn,
                attention_bias=attention_bias,
                only_cross_attention=only_cross_attention,
                double_self_attention=double_self_attention,
                upcast_attention=upcast_attention,
                norm_elementwise_affine=norm_elementwise_affine,
                norm_eps=norm_eps,
            )
            for _ in range(num_layers)
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
    ) -> torch.Tensor:
        batch, _, height, width = hidden_states.shape
        residual = hidden_states
        hidden_states = self.norm(hidden_states)
        if not self.use_linear_projection:
            hidden_states = self.proj_in(hidden_states)
        # One copy into token-major order here keeps every later residual sum contiguous.
        tokens = hidden_states.permute(0, 2, 3, 1).reshape(batch, height * width, -1).contiguous()
        if self.use_linear_projection:
            tokens = self.proj_in(tokens)
        for block in self.transformer_blocks:
            tokens = block(
                tokens,
                attention_mask=attention_mask,
                encoder_hidden_states=encoder_hidden_states,
                encoder_attention_mask=encoder_attention_mask,
                cross_attention_kwargs=cross_attention_kwargs,
            )
        if self.use_linear_projection:
            tokens = self.proj_out(tokens)
        hidden_states = tokens.reshape(batch, height, width, -1).permute(0, 3, 1, 2).contiguous()
        if not self.use_linear_projection:
            hidden_states = self.proj_out(hidden_states)
        return hidden_states.add_(residual)


__all__ = ["BasicTransformerBlock", "Transformer2DModel"]
