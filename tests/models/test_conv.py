"""`Conv2d` sends small CPU fp32 inputs to PyTorch's native kernel and computes the same conv."""

from __future__ import annotations

from unittest import mock

import diffusekit_models.conv as conv_module
import pytest
import torch
from diffusekit_models.conv import NATIVE_KERNEL_MAX_ELEMENTS, Conv2d
from torch import nn


def _pair(*args, **kwargs) -> tuple[Conv2d, nn.Conv2d]:
    torch.manual_seed(0)
    ours = Conv2d(*args, **kwargs)
    plain = nn.Conv2d(*args, **kwargs)
    plain.load_state_dict(ours.state_dict())
    return ours, plain


def _native_calls(module: Conv2d, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    spy = mock.Mock(wraps=conv_module._native_conv2d)
    with mock.patch.object(conv_module, "_native_conv2d", spy):
        return module(x), spy.call_count


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 3, "padding": 1},
        {"kernel_size": 1},
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": 3, "padding": 0, "bias": False},
        {"kernel_size": (3, 1), "padding": (1, 0)},
    ],
)
def test_small_inputs_take_the_native_kernel_and_match_torch(kwargs) -> None:
    ours, plain = _pair(8, 16, **kwargs)
    x = torch.randn(2, 8, 8, 8)
    out, calls = _native_calls(ours, x)
    assert calls == 1
    torch.testing.assert_close(out, plain(x), rtol=1e-5, atol=1e-5)


def test_the_threshold_counts_the_whole_batch() -> None:
    ours, _ = _pair(8, 8, kernel_size=3, padding=1)
    at_limit = torch.randn(2, 8, 16, 32)
    assert at_limit.numel() == NATIVE_KERNEL_MAX_ELEMENTS
    assert _native_calls(ours, at_limit)[1] == 1
    assert _native_calls(ours, torch.randn(3, 8, 16, 32))[1] == 0


@pytest.mark.parametrize(
    ("kwargs", "x"),
    [
        ({"kernel_size": 3, "padding": 1}, torch.randn(2, 8, 8, 8, dtype=torch.float64)),
        (
            {"kernel_size": 3, "padding": 1},
            torch.randn(2, 8, 8, 8).to(memory_format=torch.channels_last),
        ),
        ({"kernel_size": 3, "padding": 2, "dilation": 2}, torch.randn(2, 8, 8, 8)),
        ({"kernel_size": 3, "padding": 1, "groups": 2}, torch.randn(2, 8, 8, 8)),
        ({"kernel_size": 3, "padding": 1, "padding_mode": "reflect"}, torch.randn(2, 8, 8, 8)),
        ({"kernel_size": 3, "padding": "same"}, torch.randn(2, 8, 8, 8)),
    ],
    ids=["float64", "channels-last", "dilated", "grouped", "reflect-padded", "same-padded"],
)
def test_other_convolutions_keep_torch_s_own_kernel_choice(kwargs, x) -> None:
    ours, plain = _pair(8, 8, **kwargs)
    ours, plain = ours.to(x.dtype), plain.to(x.dtype)
    out, calls = _native_calls(ours, x)
    assert calls == 0
    torch.testing.assert_close(out, plain(x), rtol=0, atol=0)
    assert out.stride() == plain(x).stride()


def test_gradients_match_torch() -> None:
    ours, plain = _pair(4, 6, kernel_size=3, padding=1)
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    x_plain = x.detach().clone().requires_grad_()
    ours(x).square().sum().backward()
    plain(x_plain).square().sum().backward()
    torch.testing.assert_close(x.grad, x_plain.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.weight.grad, plain.weight.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.bias.grad, plain.bias.grad, rtol=1e-5, atol=1e-5)


def test_state_dict_is_nn_conv2d_s() -> None:
    ours, plain = _pair(4, 6, kernel_size=3)
    assert isinstance(ours, nn.Conv2d)
    assert list(ours.state_dict()) == list(plain.state_dict()) == ["weight", "bias"]


def test_flop_counters_see_the_convolution() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    ours, plain = _pair(4, 8, kernel_size=3, padding=1)
    x = torch.randn(2, 4, 8, 8)
    counts = []
    for module in (ours, plain):
        with FlopCounterMode(display=False) as counter:
            module(x)
        counts.append(counter.get_total_flops())
    assert counts[0] == counts[1] == 2 * 2 * 8 * 8 * 8 * 4 * 9


@pytest.mark.filterwarnings("ignore:`torch.jit.trace.*` is deprecated:DeprecationWarning")
def test_traces_record_torch_s_convolution() -> None:
    """A TorchScript trace (also what the legacy ONNX exporter runs) keeps the standard op."""
    ours, _ = _pair(4, 8, kernel_size=3, padding=1)
    traced = torch.jit.trace(ours, torch.randn(2, 4, 8, 8))
    graph = str(traced.graph)
    assert "aten::_convolution" in graph and "thnn_conv2d" not in graph
