"""Run a convolutional network on overlapping tiles and blend the seams linearly.

Keeps memory flat for large images. The tiles overlap by a quarter (by default); in each
overlap the output ramps linearly from the previous tile to the next, then every tile is
cropped to its stride so the pieces abut. The ramp weights are the reference's (y / extent
in double precision), so tiled outputs match it to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _ramp(extent: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    steps = torch.arange(extent, dtype=torch.float64, device=like.device) / extent
    return steps.to(like.dtype), (1 - steps).to(like.dtype)


def blend_rows(upper: torch.Tensor, lower: torch.Tensor, extent: int) -> torch.Tensor:
    """Fade the top `extent` rows of `lower` in from the bottom rows of `upper` (a new tensor)."""
    extent = min(upper.shape[2], lower.shape[2], extent)
    if extent == 0:
        return lower
    rising, falling = _ramp(extent, lower)
    mixed = upper[:, :, -extent:, :] * falling[:, None] + lower[:, :, :extent, :] * rising[:, None]
    return torch.cat([mixed, lower[:, :, extent:, :]], dim=2)


def blend_columns(left: torch.Tensor, right: torch.Tensor, extent: int) -> torch.Tensor:
    """Fade the left `extent` columns of `right` in from the right columns of `left`."""
    extent = min(left.shape[3], right.shape[3], extent)
    if extent == 0:
        return right
    rising, falling = _ramp(extent, right)
    mixed = left[:, :, :, -extent:] * falling + right[:, :, :, :extent] * rising
    return torch.cat([mixed, right[:, :, :, extent:]], dim=3)


def tiled_apply(
    x: torch.Tensor,
    network: Callable[[torch.Tensor], torch.Tensor],
    tile: int,
    out_tile: int,
    overlap_factor: float = 0.25,
) -> torch.Tensor:
    """`network` applied to `tile`-sized windows of `x` (stride ``tile * (1 - overlap)``).

    `out_tile` is the size of one tile's output (tile times the network's scale factor).
    """
    stride = int(tile * (1 - overlap_factor))
    extent = int(out_tile * overlap_factor)
    keep = out_tile - extent
    grid = [
        [network(x[:, :, i : i + tile, j : j + tile]) for j in range(0, x.shape[3], stride)]
        for i in range(0, x.shape[2], stride)
    ]
    rows = []
    for i, row in enumerate(grid):
        pieces = []
        for j, piece in enumerate(row):
            if i > 0:
                piece = blend_rows(grid[i - 1][j], piece, extent)
            if j > 0:
                piece = blend_columns(row[j - 1], piece, extent)
            row[j] = piece
            pieces.append(piece[:, :, :keep, :keep])
        rows.append(torch.cat(pieces, dim=3))
    return torch.cat(rows, dim=2)


__all__ = ["blend_columns", "blend_rows", "tiled_apply"]
