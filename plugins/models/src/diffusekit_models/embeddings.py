"""Time embeddings: sinusoidal features of the diffusion step and the MLP that widens them.

Sinusoidal position features of Vaswani et al., "Attention Is All You Need" (2017), applied to
the timestep as in Ho et al., "Denoising Diffusion Probabilistic Models" (2020).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from ._activation import activation


def sinusoidal_embedding(
    timesteps: torch.Tensor,
    dim: int,
    flip_sin_to_cos: bool = False,
    freq_shift: float = 1,
    scale: float = 1,
    max_period: int = 10000,
) -> torch.Tensor:
    """(N,) timesteps -> (N, dim) float32 features [sin | cos] (or [cos | sin] when flipped).

    Frequencies are ``max_period ** (-i / (dim / 2 - freq_shift))`` for i < dim / 2; an odd
    `dim` gets a zero column at the end.
    """
    if timesteps.ndim != 1:
        raise ValueError(f"timesteps: expected a 1D tensor, found shape {tuple(timesteps.shape)}")
    frequencies = _frequencies(dim // 2, float(freq_shift), max_period, timesteps.device)
    angles = timesteps[:, None].float() * frequencies * scale
    parts = (
        (torch.cos(angles), torch.sin(angles))
        if flip_sin_to_cos
        else (
            torch.sin(angles),
            torch.cos(angles),
        )
    )
    emb = torch.cat(parts, dim=-1)
    if dim % 2 == 1:
        emb = nn.functional.pad(emb, (0, 1))
    return emb


def _frequencies(
    half: int, freq_shift: float, max_period: int, device: torch.device
) -> torch.Tensor:
    """(1, half) float32 frequencies, computed once per shape and device instead of every step
    (under torch.compile they are traced as plain operations, which the compiler folds)."""
    if torch.compiler.is_compiling():
        return _frequency_table(half, freq_shift, max_period, device)
    return _cached_frequencies(half, freq_shift, max_period, device)


def _frequency_table(
    half: int, freq_shift: float, max_period: int, device: torch.device
) -> torch.Tensor:
    exponent = torch.arange(half, dtype=torch.float32, device=device)
    exponent = exponent * (-math.log(max_period) / (half - freq_shift))
    return torch.exp(exponent)[None, :]


@functools.lru_cache(maxsize=64)
def _cached_frequencies(
    half: int, freq_shift: float, max_period: int, device: torch.device
) -> torch.Tensor:
    """Built outside inference mode: the shared tensor is also used where autograd records."""
    with torch.inference_mode(False), torch.no_grad():
        return _frequency_table(half, freq_shift, max_period, device)


class Timesteps(nn.Module):
    """Parameter-free sinusoidal features of the timestep (see `sinusoidal_embedding`)."""

    def __init__(
        self,
        num_channels: int,
        flip_sin_to_cos: bool,
        downscale_freq_shift: float,
        scale: float = 1,
    ) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift
        self.scale = scale

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        return sinusoidal_embedding(
            timesteps,
            self.num_channels,
            flip_sin_to_cos=self.flip_sin_to_cos,
            freq_shift=self.downscale_freq_shift,
            scale=self.scale,
        )


class TimestepEmbedding(nn.Module):
    """Two-layer MLP on time features: linear_1 -> act -> linear_2 (-> post_act).

    `cond_proj_dim` adds a bias-free projection of an extra condition to the input
    (latent-consistency models' guidance embedding).
    """

    def __init__(
        self,
        in_channels: int,
        time_embed_dim: int,
        act_fn: str = "silu",
        out_dim: int | None = None,
        post_act_fn: str | None = None,
        cond_proj_dim: int | None = None,
        sample_proj_bias: bool = True,
    ) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim, sample_proj_bias)
        self.cond_proj = (
            nn.Linear(cond_proj_dim, in_channels, bias=False) if cond_proj_dim is not None else None
        )
        self.act = activation(act_fn)
        self.linear_2 = nn.Linear(time_embed_dim, out_dim or time_embed_dim, sample_proj_bias)
        self.post_act = activation(post_act_fn) if post_act_fn is not None else None

    def forward(self, sample: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if condition is not None:
            sample = sample + self.cond_proj(condition)
        sample = self.linear_2(self.act(self.linear_1(sample)))
        return self.post_act(sample) if self.post_act is not None else sample


__all__ = ["TimestepEmbedding", "Timesteps", "sinusoidal_embedding"]
