"""Random Fourier features of a scalar noise level or time.

Tancik et al., "Fourier Features Let Networks Learn High Frequency Functions in Low Dimensional
Domains" (2020), as used for noise-level conditioning by Song et al., "Score-Based Generative
Modeling through Stochastic Differential Equations" (2021) and by Dance Diffusion.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class GaussianFourierProjection(nn.Module):
    """Maps a batch of scalars ``x`` to ``[sin(2πxW), cos(2πxW)]`` with fixed Gaussian ``W``.

    ``W`` (the parameter ``weight``, shape ``(embedding_size,)``) is drawn from
    ``N(0, scale²)`` and never trained; checkpoints store it. With ``log=True`` the input is
    ``log(x)`` (score-SDE conditions on ``log σ``). The output has ``2 * embedding_size``
    features, cosines first when ``flip_sin_to_cos``.
    """

    def __init__(
        self,
        embedding_size: int = 256,
        scale: float = 1.0,
        log: bool = True,
        flip_sin_to_cos: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(embedding_size) * scale, requires_grad=False)
        self.log = log
        self.flip_sin_to_cos = flip_sin_to_cos

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.log:
            x = torch.log(x)
        # The multiplication order is the reference's: phases reach ~1e3 for score-SDE, where a
        # different float32 rounding order shifts the sines by more than 1e-4.
        phase = x[:, None] * self.weight[None, :] * 2 * math.pi
        parts = (phase.cos(), phase.sin()) if self.flip_sin_to_cos else (phase.sin(), phase.cos())
        return torch.cat(parts, dim=-1)
