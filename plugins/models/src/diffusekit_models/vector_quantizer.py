"""Nearest-codebook-entry quantization of VQ-VAE latents.

van den Oord et al., "Neural Discrete Representation Learning" (2017); the loss weighting is the
one of Esser et al.'s VQGAN ("Taming Transformers for High-Resolution Image Synthesis", 2021),
whose checkpoints latent diffusion's VQ models come from.
"""

from __future__ import annotations

import torch
from torch import nn


class VectorQuantizer(nn.Module):
    """Replaces each latent vector by its nearest codebook entry (Euclidean distance).

    `forward(z)` takes latents (batch, vq_embed_dim, height, width) and returns
    ``(z_q, loss, (None, None, indices))``: quantized latents with straight-through gradients,
    the VQ loss, and the flat codebook indices (shaped (batch, height, width) when
    `sane_index_shape`). With `legacy=True` (the default, as in VQGAN's released code) `beta`
    weights the codebook term instead of the commitment term.
    """

    def __init__(
        self,
        n_e: int,
        vq_embed_dim: int,
        beta: float,
        sane_index_shape: bool = False,
        legacy: bool = True,
    ) -> None:
        super().__init__()
        self.n_e = n_e
        self.vq_embed_dim = vq_embed_dim
        self.beta = beta
        self.legacy = legacy
        self.sane_index_shape = sane_index_shape
        self.embedding = nn.Embedding(n_e, vq_embed_dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / n_e, 1.0 / n_e)

    def nearest_indices(self, z_channels_last: torch.Tensor) -> torch.Tensor:
        flat = z_channels_last.reshape(-1, self.vq_embed_dim)
        return torch.argmin(torch.cdist(flat, self.embedding.weight), dim=1)

    def _loss(self, z: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
        codebook = torch.mean((z_q - z.detach()) ** 2)
        commitment = torch.mean((z_q.detach() - z) ** 2)
        if self.legacy:
            return commitment + self.beta * codebook
        return self.beta * commitment + codebook

    def forward(
        self, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[None, None, torch.Tensor]]:
        z = z.permute(0, 2, 3, 1)
        indices = self.nearest_indices(z)
        z_q = self.embedding(indices).view(z.shape)
        loss = self._loss(z, z_q)
        z_q = z + (z_q - z).detach()
        z_q = z_q.permute(0, 3, 1, 2).contiguous()
        if self.sane_index_shape:
            indices = indices.reshape(z_q.shape[0], z_q.shape[2], z_q.shape[3])
        return z_q, loss, (None, None, indices)

    def get_codebook_entry(
        self, indices: torch.Tensor, shape: tuple[int, ...] | None = None
    ) -> torch.Tensor:
        """Codebook vectors for `indices`; with `shape` (batch, height, width, channels), as
        latents (batch, channels, height, width)."""
        z_q = self.embedding(indices)
        if shape is not None:
            z_q = z_q.view(shape).permute(0, 3, 1, 2).contiguous()
        return z_q
