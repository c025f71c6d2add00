"""Replace flagged images by black ones, for every image container the pipelines use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch

Images = TypeVar("Images", torch.Tensor, np.ndarray, list[Any])


def black_out(images: Images, flags: Sequence[bool]) -> Images:
    """Return `images` with every flagged image set to zeros; the input is left untouched.

    `images` is a batch tensor or array (first axis = images) or a list of tensors or arrays.
    Zeros are black for images in [0, 1] and mid-grey for images still in [-1, 1]; pipelines
    that denormalize afterwards skip the flagged ones.
    """
    if len(flags) != len(images):
        raise ValueError(
            f"black_out: got {len(flags)} flags for {len(images)} images; expected one per image"
        )
    if not any(flags):
        return images
    if isinstance(images, torch.Tensor):
        mask = torch.tensor(list(flags), device=images.device)
        return images.masked_fill(mask.view(-1, *([1] * (images.ndim - 1))), 0)
    if isinstance(images, np.ndarray):
        blacked = images.copy()
        blacked[np.asarray(flags, dtype=bool)] = 0
        return blacked
    if isinstance(images, list):
        return [_zeros_like(image) if flag else image for image, flag in zip(images, flags)]
    raise TypeError(
        "black_out: images must be a torch.Tensor, a numpy.ndarray or a list of them, "
        f"found {type(images).__name__}"
    )


def _zeros_like(image: Any) -> Any:
    if isinstance(image, torch.Tensor):
        return torch.zeros_like(image)
    if isinstance(image, np.ndarray):
        return np.zeros_like(image)
    raise TypeError(
        "black_out: a list of images must hold torch.Tensor or numpy.ndarray items, "
        f"found {type(image).__name__} (PIL images cannot be blacked out here)"
    )
