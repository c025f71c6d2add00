"""Attention processors: interchangeable ways to compute softmax(QKᵀ·scale)V for `Attention`.

Contract for plugin authors: a processor is a class whose instances are called as
``processor(attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None)``
and return the module's output. Subclassing `AttentionProcessor` and overriding only
``attend(attn, query, key, value, mask)`` (tensors shaped (batch, heads, tokens, head_dim)) is
enough: the base class does the projections, head splitting, norms and residuals.

Processors are found by name (`processor_class`): a programmatic
``diffusekit.registry.register("attention", Name, cls)`` first, then entry points named
``attention.<Name>`` in group ``diffusekit.components``, then the built-ins below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ._dropout import apply_layer

if TYPE_CHECKING:
    from .attention import Attention

#: The library name processors are registered under in the diffusekit registry.
ATTENTION_LIBRARY = "attention"


class AttentionProcessor:
    """Base processor: runs the module's projections around `attend`.

    Subclasses implement `attend`; the rest of the pipeline (input norms, residual, output
    rescale, flattening of feature maps) is the same for every processor.
    """

    def attend(
        self,
        attn: Attention,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement attend()")

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        image_shape = hidden_states.shape if hidden_states.ndim == 4 else None
        if attn.group_norm is not None:
            hidden_states = _group_norm_tokens(attn, hidden_states)
        if image_shape is not None:
            batch, channels = image_shape[:2]
            hidden_states = hidden_states.view(batch, channels, -1).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states

        query = attn.split_heads(attn.to_q(hidden_states))
        key = attn.split_heads(attn.to_k(context))
        value = attn.split_heads(attn.to_v(context))
        mask = attn.broadcast_mask(attention_mask, query.dtype)
        out = _as_dtype(attn.merge_heads(self.attend(attn, query, key, value, mask)), query.dtype)
        for layer in attn.to_out:
            out = apply_layer(layer, out)

        if image_shape is not None:
            out = out.transpose(1, 2).reshape(image_shape)
        if attn.residual_connection:
            out = out.add_(residual)
        if attn.rescale_output_factor != 1.0:
            out = out.div_(attn.rescale_output_factor)
        return out


def _as_dtype(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`tensor.to(dtype)` without the call when it already has it (a no-op that still costs)."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def _group_norm_tokens(attn: Attention, hidden_states: torch.Tensor) -> torch.Tensor:
    if hidden_states.ndim == 4:
        return attn.group_norm(hidden_states)
    return attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)


def explicit_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    scale: float,
    mask: torch.Tensor | None = None,
    upcast_attention: bool = False,
    upcast_softmax: bool = False,
) -> torch.Tensor:
    """softmax(QKᵀ·scale + mask)V written out, honouring the float32 upcast flags."""
    dtype = query.dtype
    if upcast_attention:
        query, key = query.float(), key.float()
    scores = torch.matmul(query, key.transpose(-1, -2)) * scale
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    if upcast_softmax:
        scores = scores.float()
    probs = scores.softmax(dim=-1).to(dtype)
    return torch.matmul(probs, value)


class AttnProcessor2_0(AttentionProcessor):
    """The default: PyTorch's fused `scaled_dot_product_attention`.

    float16 inputs of a layer with `upcast_attention` are computed in float32 (the fused kernel
    has no upcast flag; without it SD 2.x overflows in half precision on some backends).
    """

    def attend(
        self,
        attn: Attention,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        dtype = query.dtype
        if attn.upcast_attention and dtype == torch.float16:
            query, key, value = query.float(), key.float(), value.float()
            mask = mask if mask is None or mask.dtype == torch.bool else mask.float()
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=attn.scale)
        return _as_dtype(out, dtype)


class AttnProcessor(AttentionProcessor):
    """Scores, softmax and weighted sum as three explicit operations (the classic kernel)."""

    def attend(
        self,
        attn: Attention,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        return explicit_attention(
            query, key, value, attn.scale, mask, attn.upcast_attention, attn.upcast_softmax
        )


class SlicedAttnProcessor(AttentionProcessor):
    """Computes attention `slice_size` (batch x head) rows at a time to bound peak memory."""

    def __init__(self, slice_size: int) -> None:
        if not isinstance(slice_size, int) or slice_size < 1:
            raise ValueError(
                f"SlicedAttnProcessor: slice_size must be a positive int, found {slice_size!r}"
            )
        self.slice_size = slice_size

    def attend(
        self,
        attn: Attention,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        batch, heads, tokens, _ = query.shape
        rows = batch * heads
        flat_q, flat_k, flat_v = (t.reshape(rows, *t.shape[2:]) for t in (query, key, value))
        flat_mask = None
        if mask is not None:
            mask = mask.expand(batch, heads, *mask.shape[2:])
            flat_mask = mask.reshape(rows, *mask.shape[2:])
        out = query.new_empty(rows, tokens, value.shape[-1])
        for start in range(0, rows, self.slice_size):
            part = slice(start, start + self.slice_size)
            out[part] = explicit_attention(
                flat_q[part],
                flat_k[part],
                flat_v[part],
                attn.scale,
                None if flat_mask is None else flat_mask[part],
                attn.upcast_attention,
                attn.upcast_softmax,
            )
        return out.view(batch, heads, tokens, -1)


_BUILTINS: dict[str, type[AttentionProcessor]] = {
    "AttnProcessor2_0": AttnProcessor2_0,
    "AttnProcessor": AttnProcessor,
    "SlicedAttnProcessor": SlicedAttnProcessor,
}


def default_processor() -> AttentionProcessor:
    return AttnProcessor2_0()


def sliced_processor(slice_size: int) -> AttentionProcessor:
    return SlicedAttnProcessor(slice_size)


def processor_class(name: str) -> type:
    """The processor class called `name`: registry (register() or entry point), then built-ins."""
    from diffusekit import registry
    from diffusekit.errors import MissingComponentError

    try:
        return registry.resolve(ATTENTION_LIBRARY, name)
    except MissingComponentError:
        if name in _BUILTINS:
            return _BUILTINS[name]
        known = sorted(set(_BUILTINS) | _registered_names())
        raise ValueError(
            f"unknown attention processor {name!r}; known: {known} (a plugin adds one with an "
            f"entry point '{ATTENTION_LIBRARY}.<Name>' in group 'diffusekit.components')"
        ) from None


def _registered_names() -> set[str]:
    from diffusekit import registry

    prefix = ATTENTION_LIBRARY + "."
    return {n[len(prefix) :] for n in registry.component_names() if n.startswith(prefix)}


def make_processor(spec: str | type | AttentionProcessor, **options: Any) -> Any:
    """A processor instance from an instance, a class, or a registered name."""
    if isinstance(spec, str):
        spec = processor_class(spec)
    if isinstance(spec, type):
        return spec(**options)
    if options:
        raise TypeError(f"options {sorted(options)} given for an already built processor {spec!r}")
    if not callable(spec):
        raise TypeError(f"an attention processor must be callable, found {type(spec).__name__}")
    return spec


__all__ = [
    "ATTENTION_LIBRARY",
    "AttentionProcessor",
    "AttnProcessor",
    "AttnProcessor2_0",
    "SlicedAttnProcessor",
    "explicit_attention",
    "make_processor",
    "processor_class",
]
