"""Attention processors: swapping, slicing, and processors added through the registry."""

from __future__ import annotations

import pytest
import torch
from diffusekit_models.attention import Attention
from diffusekit_models.attention_control import AttentionControlMixin
from diffusekit_models.attention_processors import (
    AttentionProcessor,
    AttnProcessor,
    AttnProcessor2_0,
    SlicedAttnProcessor,
    processor_class,
)
from torch import nn

from diffusekit import registry


class _TwoLayers(AttentionControlMixin, nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.self_attn = Attention(16, heads=4, dim_head=4)
        self.cross_attn = Attention(16, cross_attention_dim=8, heads=2, dim_head=8, bias=True)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.cross_attn(self.self_attn(x), context)


@pytest.fixture
def model() -> _TwoLayers:
    torch.manual_seed(0)
    return _TwoLayers().eval()


@pytest.fixture
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(3, 10, 16, generator=generator), torch.randn(3, 7, 8, generator=generator)


def test_default_processor_is_sdpa_and_keys_name_module_paths(model: _TwoLayers) -> None:
    processors = model.attn_processors
    assert sorted(processors) == ["cross_attn.processor", "self_attn.processor"]
    assert all(isinstance(p, AttnProcessor2_0) for p in processors.values())


def test_explicit_processor_matches_sdpa(model: _TwoLayers, inputs: tuple) -> None:
    expected = model(*inputs)
    model.set_attn_processor(AttnProcessor())
    assert all(type(p) is AttnProcessor for p in model.attn_processors.values())
    torch.testing.assert_close(model(*inputs), expected, atol=1e-6, rtol=0)


def test_processor_by_name_and_per_layer_dict(model: _TwoLayers) -> None:
    model.set_attn_processor("AttnProcessor")
    assert all(type(p) is AttnProcessor for p in model.attn_processors.values())
    model.set_attn_processor(
        {"self_attn.processor": AttnProcessor2_0(), "cross_attn.processor": SlicedAttnProcessor(1)}
    )
    assert type(model.self_attn.processor) is AttnProcessor2_0
    assert model.cross_attn.processor.slice_size == 1
    with pytest.raises(ValueError, match="missing"):
        model.set_attn_processor({"self_attn.processor": AttnProcessor()})
    with pytest.raises(ValueError, match="unknown attention processor 'NoSuch'"):
        model.set_attn_processor("NoSuch")


@pytest.mark.parametrize("size", ["auto", "max", 1, 2, [1, 2]])
def test_sliced_attention_equals_default(model: _TwoLayers, inputs: tuple, size: object) -> None:
    expected = model(*inputs)
    model.set_attention_slice(size)
    assert all(isinstance(p, SlicedAttnProcessor) for p in model.attn_processors.values())
    torch.testing.assert_close(model(*inputs), expected, atol=1e-5, rtol=0)
    model.set_attention_slice(None)
    assert all(isinstance(p, AttnProcessor2_0) for p in model.attn_processors.values())


def test_slice_sizes_follow_the_reference_rules(model: _TwoLayers) -> None:
    model.set_attention_slice("auto")
    assert [p.slice_size for p in model.attn_processors.values()] == [2, 1]
    model.set_attention_slice("max")
    assert [p.slice_size for p in model.attn_processors.values()] == [1, 1]
    with pytest.raises(ValueError, match="larger than"):
        model.set_attention_slice(3)
    with pytest.raises(ValueError, match="2 attention layers"):
        model.set_attention_slice([1])


def test_masked_attention_agrees_across_processors(model: _TwoLayers, inputs: tuple) -> None:
    x, context = inputs
    keep = torch.ones(3, 7)
    keep[:, 4:] = 0
    bias = (1 - keep) * -10000.0
    layer = model.cross_attn
    expected = layer(x, context[:, :4])
    for processor in (AttnProcessor2_0(), AttnProcessor(), SlicedAttnProcessor(1)):
        layer.set_processor(processor)
        torch.testing.assert_close(
            layer(x, context, attention_mask=bias[:, None]), expected, atol=1e-5, rtol=0
        )


def test_feature_maps_and_group_norm_residual() -> None:
    torch.manual_seed(0)
    layer = Attention(8, heads=1, dim_head=8, norm_num_groups=4, residual_connection=True)
    image = torch.randn(2, 8, 3, 5)
    tokens = image.flatten(2).transpose(1, 2)
    out = layer(image)
    assert out.shape == image.shape
    normed = layer.group_norm(image).flatten(2).transpose(1, 2)
    q, k, v = layer.to_q(normed), layer.to_k(normed), layer.to_v(normed)
    probs = (q @ k.transpose(1, 2) / 8**0.5).softmax(-1)
    expected = layer.to_out[0](probs @ v) + tokens
    torch.testing.assert_close(out.flatten(2).transpose(1, 2), expected, atol=1e-5, rtol=0)


class _DoublingProcessor(AttentionProcessor):
    """A third-party processor: SDPA output times two (so its effect is visible)."""

    def attend(self, attn, query, key, value, mask):  # type: ignore[no-untyped-def]
        return 2 * torch.nn.functional.scaled_dot_product_attention(query, key, value, mask)


def test_registry_added_processor_resolves_by_name(model: _TwoLayers, inputs: tuple) -> None:
    with pytest.raises(ValueError, match="unknown attention processor"):
        processor_class("Doubling")
    with registry.registered("attention", "Doubling", _DoublingProcessor):
        assert processor_class("Doubling") is _DoublingProcessor
        model.set_attn_processor("Doubling")
        layer = model.self_attn
        x = inputs[0]
        q, k, v = (layer.split_heads(proj(x)) for proj in (layer.to_q, layer.to_k, layer.to_v))
        doubled = layer.to_out[0](
            layer.merge_heads(2 * nn.functional.scaled_dot_product_attention(q, k, v))
        )
        torch.testing.assert_close(layer(x), doubled, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="unknown attention processor"):
        processor_class("Doubling")


def test_builtin_processors_are_declared_as_entry_points() -> None:
    for name in ("AttnProcessor2_0", "AttnProcessor", "SlicedAttnProcessor"):
        assert f"attention.{name}" in registry.component_names()
        assert registry.resolve("attention", name).__name__ == name


def test_upcast_attention_keeps_float16_finite() -> None:
    torch.manual_seed(0)
    layer = Attention(16, heads=2, dim_head=8, upcast_attention=True).half()
    x = (torch.randn(1, 6, 16) * 30).half()
    expected = Attention.forward(layer.float(), x.float())
    layer.half()
    out = layer(x)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), expected, atol=5e-2, rtol=1e-2)
