"""Activation functions by the names configs use."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

ActivationName = Literal["swish", "silu", "mish", "gelu", "relu"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "gelu": nn.GELU,
    "relu": nn.ReLU,
}


def activation(name: str) -> nn.Module:
    try:
        return _ACTIVATIONS[name.lower()]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}"
        ) from None


def activate_scratch(module: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    """`module(hidden_states)`, overwriting `hidden_states` when that is safe and saves memory.

    For a tensor the caller just made and uses nowhere else (a norm's output). In place only
    when no autograd graph records it (inference, `torch.no_grad`), since SiLU's backward
    needs its input; values are identical either way.
    """
    if isinstance(module, nn.SiLU) and not hidden_states.requires_grad:
        return F.silu(hidden_states, inplace=True)
    return module(hidden_states)
