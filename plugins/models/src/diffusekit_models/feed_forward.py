"""The transformer blocks' position-wise feed-forward network, with GEGLU or GELU.

GEGLU: Shazeer, "GLU Variants Improve Transformer" (2020): one projection to twice the width,
half of it gating the other through GELU.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ._dropout import apply_layer

FeedForwardActivation = Literal["geglu", "gelu", "gelu-approximate"]


class GEGLU(nn.Module):
    """x -> a * gelu(g) where [a | g] = proj(x)."""

    def __init__(self, dim_in: int, dim_out: int, bias: bool = True) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2, bias=bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states, gate = self.proj(hidden_states).chunk(2, dim=-1)
        gate = F.gelu(gate)
        if gate.requires_grad:
            return hidden_states * gate
        return gate.mul_(hidden_states)


class GELU(nn.Module):
    """x -> gelu(proj(x)), exact or with the tanh approximation."""

    def __init__(
        self, dim_in: int, dim_out: int, approximate: str = "none", bias: bool = True
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out, bias=bias)
        self.approximate = approximate

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(hidden_states), approximate=self.approximate)


class FeedForward(nn.Module):
    """net = [activation projection, dropout, output linear (, dropout)]."""

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        mult: int = 4,
        dropout: float = 0.0,
        activation_fn: FeedForwardActivation = "geglu",
        final_dropout: bool = False,
        inner_dim: int | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        inner = inner_dim if inner_dim is not None else int(dim * mult)
        if activation_fn == "geglu":
            act: nn.Module = GEGLU(dim, inner, bias=bias)
        elif activation_fn in ("gelu", "gelu-approximate"):
            approximate = "tanh" if activation_fn == "gelu-approximate" else "none"
            act = GELU(dim, inner, approximate=approximate, bias=bias)
        else:
            raise ValueError(
                f"FeedForward: activation_fn must be one of 'geglu', 'gelu', 'gelu-approximate', "
                f"found {activation_fn!r}"
            )
        layers = [act, nn.Dropout(dropout), nn.Linear(inner, dim_out or dim, bias=bias)]
        if final_dropout:
            layers.append(nn.Dropout(dropout))
        self.net = nn.ModuleList(layers)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            hidden_states = apply_layer(layer, hidden_states)
        return hidden_states


__all__ = ["GEGLU", "GELU", "FeedForward"]
