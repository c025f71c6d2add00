"""Dropout layers are skipped where they would return their input unchanged."""

from __future__ import annotations

import torch
from torch import nn


def apply_layer(layer: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    """``layer(hidden_states)``, except that an inactive :class:`torch.nn.Dropout` is not called.

    A Dropout in eval mode, or with ``p == 0``, is the identity; calling it still costs a module
    call and a functional wrapper, at about a hundred sites per U-Net step. Forward hooks on such
    a Dropout therefore do not fire.
    """
    if type(layer) is nn.Dropout and not (layer.training and layer.p > 0):
        return hidden_states
    return layer(hidden_states)
