"""`apply_layer` skips only Dropout layers that would return their input unchanged."""

from __future__ import annotations

import pytest
import torch
from diffusekit_models._dropout import apply_layer
from torch import nn


@pytest.mark.parametrize(
    "layer", [nn.Dropout(0.5).eval(), nn.Dropout(0.0).train()], ids=["eval", "p=0"]
)
def test_an_inactive_dropout_returns_the_input_itself_without_being_called(layer) -> None:
    x = torch.randn(4, 4)
    calls: list[tuple] = []
    layer.register_forward_hook(lambda *args: calls.append(args))
    assert apply_layer(layer, x) is x
    assert calls == []


def test_an_active_dropout_still_drops() -> None:
    torch.manual_seed(0)
    x = torch.ones(1000)
    out = apply_layer(nn.Dropout(0.5).train(), x)
    assert (out == 0).sum() > 100
    assert torch.equal(out[out != 0], torch.full_like(out[out != 0], 2.0))


def test_other_layers_and_dropout_subclasses_are_called() -> None:
    class NoisyDropout(nn.Dropout):
        def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
            return hidden_states + 1

    x = torch.zeros(3)
    assert torch.equal(apply_layer(NoisyDropout(0.0).eval(), x), torch.ones(3))
    linear = nn.Linear(3, 2)
    assert torch.equal(apply_layer(linear, x), linear(x))
