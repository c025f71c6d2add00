"""`Attention`: multi-head (self- or cross-) attention whose computation is a swappable processor.

Vaswani et al., "Attention Is All You Need" (2017). The module owns the projections
(`to_q`, `to_k`, `to_v`, `to_out`) and optional input norms; *how* softmax(QKᵀ·scale)V is
computed belongs to its `processor` (see `attention_processors`), so memory-saving or
hardware-specific kernels can be swapped in without touching weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .attention_processors import AttentionProcessor, default_processor, sliced_processor
from .normalization import GroupNorm, SpatialNorm


class Attention(nn.Module):
    """Multi-head attention over sequences (batch, tokens, query_dim) or feature maps (B, C, H, W).

    Feature maps are flattened to tokens and restored; `norm_num_groups` group-normalizes the
    input first and `residual_connection` adds it back (the autoencoders' spatial self-attention).
    `upcast_attention` / `upcast_softmax` ask processors to compute scores / softmax in float32.
    """

    def __init__(
        self,
        query_dim: int,
        cross_attention_dim: int | None = None,
        heads: int = 8,
        dim_head: int = 64,
        dropout: float = 0.0,
        bias: bool = False,
        upcast_attention: bool = False,
        upcast_softmax: bool = False,
        norm_num_groups: int | None = None,
        spatial_norm_dim: int | None = None,
        out_bias: bool = True,
        scale_qk: bool = True,
        eps: float = 1e-5,
        rescale_output_factor: float = 1.0,
        residual_connection: bool = False,
        processor: AttentionProcessor | None = None,
        out_dim: int | None = None,
    ) -> None:
        super().__init__()
        inner_dim = out_dim if out_dim is not None else dim_head * heads
        self.query_dim = query_dim
        self.heads = out_dim // dim_head if out_dim is not None else heads
        self.dim_head = dim_head
        self.inner_dim = inner_dim
        self.is_cross_attention = cross_attention_dim is not None
        self.upcast_attention = upcast_attention
        self.upcast_softmax = upcast_softmax
        self.scale = dim_head**-0.5 if scale_qk else 1.0
        self.rescale_output_factor = rescale_output_factor
        self.residual_connection = residual_connection
        self.sliceable_head_dim = self.heads

        self.group_norm = (
            GroupNorm(num_channels=query_dim, num_groups=norm_num_groups, eps=eps)
            if norm_num_groups is not None
            else None
        )
        self.spatial_norm = (
            SpatialNorm(query_dim, spatial_norm_dim) if spatial_norm_dim is not None else None
        )
        context_dim = cross_attention_dim if cross_attention_dim is not None else query_dim
        self.to_q = nn.Linear(query_dim, inner_dim, bias=bias)
        self.to_k = nn.Linear(context_dim, inner_dim, bias=bias)
        self.to_v = nn.Linear(context_dim, inner_dim, bias=bias)
        self.to_out = nn.ModuleList(
            [nn.Linear(inner_dim, out_dim or query_dim, bias=out_bias), nn.Dropout(dropout)]
        )
        self.processor: AttentionProcessor = processor or default_processor()

    # ------------------------------------------------------------------ processor control

    def set_processor(self, processor: AttentionProcessor) -> None:
        """Use `processor` from now on (an nn.Module processor is registered as a submodule)."""
        if isinstance(self.processor, nn.Module) and not isinstance(processor, nn.Module):
            self._modules.pop("processor", None)
        self.processor = processor

    def get_processor(self) -> AttentionProcessor:
        return self.processor

    def set_attention_slice(self, slice_size: int | None) -> None:
        """Compute `slice_size` (batch x head) rows at a time; None restores the default."""
        if slice_size is not None and slice_size > self.sliceable_head_dim:
            raise ValueError(
                f"slice_size {slice_size} exceeds the layer's {self.sliceable_head_dim} heads"
            )
        self.set_processor(
            default_processor() if slice_size is None else sliced_processor(slice_size)
        )

    # ---------------------------------------------------------------------------- running

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        return self.processor(
            self,
            hidden_states,
            encoder_hidden_states=encoder_hidden_states,
            attention_mask=attention_mask,
            temb=temb,
            **kwargs,
        )

    def split_heads(self, tensor: torch.Tensor) -> torch.Tensor:
        """(batch, tokens, heads * d) -> (batch, heads, tokens, d), a view when possible."""
        batch, tokens, width = tensor.shape
        return tensor.view(batch, tokens, self.heads, width // self.heads).transpose(1, 2)

    def merge_heads(self, tensor: torch.Tensor) -> torch.Tensor:
        """(batch, heads, tokens, d) -> (batch, tokens, heads * d)."""
        batch, heads, tokens, dim = tensor.shape
        return tensor.transpose(1, 2).reshape(batch, tokens, heads * dim)

    def broadcast_mask(self, mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
        """A (batch, key) or (batch, query|1, key) mask -> broadcastable (batch, 1, query|1, key).

        Float masks are additive biases (cast to `dtype`); bool masks mark the keys to keep.
        """
        if mask is None:
            return None
        if mask.ndim == 2:
            mask = mask[:, None, None, :]
        elif mask.ndim == 3:
            mask = mask[:, None]
        elif mask.ndim != 4:
            raise ValueError(
                f"attention_mask: expected 2, 3 or 4 dimensions, found shape {tuple(mask.shape)}"
            )
        return mask if mask.dtype == torch.bool else mask.to(dtype)


__all__ = ["Attention"]
