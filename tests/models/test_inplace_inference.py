"""The blocks reuse their own scratch tensors without a graph; none of that may leak out.

Without autograd recording, residual sums, the GEGLU product and SiLU after a norm write into
tensors the block has just made. These tests pin the three promises that makes: the caller's
input is never written, the values equal the graph-recording forward bit for bit, and
training still differentiates correctly.
"""

from __future__ import annotations

import pytest
import torch
from diffusekit_models.attention import Attention
from diffusekit_models.feed_forward import GEGLU
from diffusekit_models.resnet import ResnetBlock2D
from diffusekit_models.transformer_2d import Transformer2DModel


def _resnet() -> ResnetBlock2D:
    return ResnetBlock2D(in_channels=8, out_channels=16, temb_channels=12, groups=4)


def _transformer() -> Transformer2DModel:
    return Transformer2DModel(
        num_attention_heads=2,
        attention_head_dim=4,
        in_channels=8,
        norm_num_groups=4,
        cross_attention_dim=6,
    )


def _spatial_attention() -> Attention:
    return Attention(8, heads=2, dim_head=4, norm_num_groups=4, residual_connection=True,
                     bias=True, rescale_output_factor=2.0)  # fmt: skip


def _randn(*shapes: tuple[int, ...]):
    return lambda g: tuple(torch.randn(*shape, generator=g) for shape in shapes)


CASES = {
    "resnet": (_resnet, _randn((2, 8, 6, 6), (2, 12))),
    "transformer": (_transformer, _randn((2, 8, 4, 5), (2, 3, 6))),
    "spatial attention": (_spatial_attention, _randn((2, 8, 4, 4))),
    "geglu": (lambda: GEGLU(6, 10), _randn((2, 5, 6))),
}


def _build(name: str) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    make_module, make_inputs = CASES[name]
    torch.manual_seed(0)
    module = make_module().eval()
    return module, make_inputs(torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", sorted(CASES))
def test_inference_leaves_the_inputs_untouched(name: str) -> None:
    module, inputs = _build(name)
    before = [t.clone() for t in inputs]
    with torch.inference_mode():
        module(*inputs)
    for original, seen in zip(before, inputs, strict=True):
        assert torch.equal(original, seen)


@pytest.mark.parametrize("name", sorted(CASES))
def test_inference_equals_the_recorded_forward_exactly(name: str) -> None:
    module, inputs = _build(name)
    recorded = module(*inputs)
    assert recorded.requires_grad
    with torch.no_grad():
        scratch = module(*inputs)
    assert torch.equal(recorded.detach(), scratch)


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_gradients_match_finite_differences(name: str) -> None:
    module, inputs = _build(name)
    module = module.double()
    first, *rest = (t.double().requires_grad_() for t in inputs)
    assert torch.autograd.gradcheck(lambda x, *r: module(x, *r), (first, *rest))


def test_residual_sum_is_contiguous_in_the_transformer() -> None:
    """Token-major residual sums must stay contiguous (a strided sum forces a copy per norm)."""
    module, (sample, context) = _build("transformer")
    block = module.transformer_blocks[0]
    seen: list[torch.Tensor] = []
    block.norm2.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    block.norm3.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    with torch.inference_mode():
        module(sample, context)
    assert [t.is_contiguous() for t in seen] == [True, True]
