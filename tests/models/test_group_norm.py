"""`GroupNorm` skips the functional wrapper but computes and refuses what nn.GroupNorm does."""

from __future__ import annotations

from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from diffusekit_models.normalization import GroupNorm
from torch import nn


def _pair(groups: int, channels: int) -> tuple[GroupNorm, nn.GroupNorm]:
    ours = GroupNorm(groups, channels, eps=1e-6)
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    plain = nn.GroupNorm(groups, channels, eps=1e-6)
    plain.load_state_dict(ours.state_dict())
    return ours, plain


@pytest.mark.parametrize("shape", [(2, 8, 5, 5), (3, 8, 7), (1, 8, 2, 3, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_values_equal_nn_group_norm_without_the_wrapper(shape, training) -> None:
    ours, plain = _pair(4, 8)
    ours.train(training)
    x = torch.randn(shape)
    spy = mock.Mock(wraps=F.group_norm)
    with mock.patch.object(F, "group_norm", spy):
        out = ours(x)
    assert spy.call_count == 0
    assert torch.equal(out, plain(x))


def test_gradients_equal_nn_group_norm() -> None:
    ours, plain = _pair(2, 4)
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    x_plain = x.detach().clone().requires_grad_()
    ours(x).pow(3).sum().backward()
    plain(x_plain).pow(3).sum().backward()
    assert torch.equal(x.grad, x_plain.grad)
    assert torch.equal(ours.weight.grad, plain.weight.grad)


def test_groups_of_one_value_are_refused_like_nn_group_norm() -> None:
    ours, plain = _pair(4, 4)
    x = torch.randn(1, 4, 1, 1)
    with pytest.raises(ValueError, match="more than 1 value per channel") as ours_error:
        ours(x)
    with pytest.raises(ValueError) as plain_error:
        plain(x)
    assert str(ours_error.value) == str(plain_error.value)


def test_state_dict_is_nn_group_norm_s() -> None:
    ours, plain = _pair(2, 4)
    assert isinstance(ours, nn.GroupNorm)
    assert list(ours.state_dict()) == list(plain.state_dict())
