"""Model-level control of every `Attention` layer: list, swap, and slice their processors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from torch import nn

from .attention import Attention
from .attention_processors import default_processor, make_processor

SliceSize = Literal["auto", "max"] | int | list[int | None] | None


class AttentionControlMixin:
    """Adds `attn_processors`, `set_attn_processor`, `set_attention_slice` to an nn.Module.

    Processor keys are the module path of each `Attention` plus ``.processor``, as in the
    reference (``down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor``).
    """

    def _attention_layers(self) -> list[tuple[str, Attention]]:
        assert isinstance(self, nn.Module)
        return [(name, m) for name, m in self.named_modules() if isinstance(m, Attention)]

    @property
    def attn_processors(self) -> dict[str, Any]:
        """Every attention layer's processor, keyed ``<module path>.processor``."""
        return {f"{name}.processor": layer.processor for name, layer in self._attention_layers()}

    def set_attn_processor(self, processor: Any) -> None:
        """Use one processor everywhere, or one per layer from a dict keyed as `attn_processors`.

        `processor` may be an instance, a processor class, or a registered name such as
        ``"AttnProcessor"`` (classes and names are instantiated once per layer).
        """
        layers = self._attention_layers()
        if isinstance(processor, Mapping):
            expected = {f"{name}.processor" for name, _ in layers}
            if set(processor) != expected:
                raise ValueError(
                    f"set_attn_processor: a dict needs exactly the {len(expected)} keys of "
                    f"attn_processors; missing {sorted(expected - set(processor))[:3]}, "
                    f"unexpected {sorted(set(processor) - expected)[:3]}"
                )
            for name, layer in layers:
                layer.set_processor(make_processor(processor[f"{name}.processor"]))
            return
        for _, layer in layers:
            layer.set_processor(make_processor(processor))

    def set_default_attn_processor(self) -> None:
        """Back to PyTorch scaled_dot_product_attention everywhere."""
        for _, layer in self._attention_layers():
            layer.set_processor(default_processor())

    def set_attention_slice(self, slice_size: SliceSize = "auto") -> None:
        """Compute attention in slices to save memory.

        ``"auto"``: half the heads of each layer at a time; ``"max"``: one (batch x head) row at
        a time; an int: that many rows everywhere; a list: one entry per attention layer (in
        module order); None: no slicing.
        """
        layers = [layer for _, layer in self._attention_layers()]
        heads = [layer.sliceable_head_dim for layer in layers]
        sizes = _slice_sizes(slice_size, heads)
        for layer, size, dim in zip(layers, sizes, heads):
            if size is not None and size > dim:
                raise ValueError(f"slice_size {size} is larger than the layer's {dim} heads")
            layer.set_attention_slice(size)


def _slice_sizes(slice_size: SliceSize, heads: list[int]) -> list[int | None]:
    if slice_size == "auto":
        # The reference gives heads // 2, i.e. 0 for one-head layers; a slice needs >= 1 row.
        return [max(dim // 2, 1) for dim in heads]
    if slice_size == "max":
        return [1] * len(heads)
    if isinstance(slice_size, list):
        if len(slice_size) != len(heads):
            raise ValueError(
                f"set_attention_slice: {len(slice_size)} sizes for {len(heads)} attention layers"
            )
        return list(slice_size)
    if slice_size is None or (isinstance(slice_size, int) and not isinstance(slice_size, bool)):
        return [slice_size] * len(heads)
    raise ValueError(
        f"set_attention_slice: expected 'auto', 'max', an int, a list or None, found {slice_size!r}"
    )


__all__ = ["AttentionControlMixin"]
