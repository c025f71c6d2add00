"""`upsample_nearest_2x` equals nearest interpolation exactly (gradients up to summation order)."""

from __future__ import annotations

from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from diffusekit_models.resnet import Upsample2D
from diffusekit_models.upsampling import REPEAT_MAX_WIDTH, upsample_nearest_2x


def _interpolations(x: torch.Tensor, output_size=None) -> tuple[torch.Tensor, int]:
    """The upsampled tensor, and how many times it called `F.interpolate` (0: it repeated)."""
    spy = mock.Mock(wraps=F.interpolate)
    with mock.patch.object(F, "interpolate", spy):
        return upsample_nearest_2x(x, output_size), spy.call_count


@pytest.mark.parametrize("width", [1, 7, REPEAT_MAX_WIDTH, REPEAT_MAX_WIDTH + 1, 48])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_doubling_equals_nearest_interpolation(width: int, dtype: torch.dtype) -> None:
    x = torch.randn(2, 3, 5, width).to(dtype)
    out, calls = _interpolations(x)
    assert calls == (0 if width <= REPEAT_MAX_WIDTH else 1)
    assert out.is_contiguous()
    assert torch.equal(out, F.interpolate(x, scale_factor=2.0, mode="nearest"))


def test_an_explicit_size_of_twice_the_input_repeats_and_others_interpolate() -> None:
    x = torch.randn(1, 2, 3, 4)
    out, calls = _interpolations(x, (6, 8))
    assert calls == 0 and torch.equal(out, F.interpolate(x, size=(6, 8), mode="nearest"))
    out, calls = _interpolations(x, (7, 9))
    assert calls == 1 and torch.equal(out, F.interpolate(x, size=(7, 9), mode="nearest"))


def test_gradients_equal_those_of_interpolation() -> None:
    x = torch.randn(1, 2, 4, 4, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    weights = torch.randn(1, 2, 8, 8)
    (upsample_nearest_2x(x) * weights).sum().backward()
    (F.interpolate(x_ref, scale_factor=2.0, mode="nearest") * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-6, atol=1e-6)


def test_upsample_block_uses_it() -> None:
    block = Upsample2D(3, use_conv=False)
    x = torch.randn(1, 3, 4, 4)
    assert torch.equal(block(x), F.interpolate(x, scale_factor=2.0, mode="nearest"))
    spy = mock.Mock(wraps=F.interpolate)
    with mock.patch.object(F, "interpolate", spy):
        block(x)
    assert spy.call_count == 0
