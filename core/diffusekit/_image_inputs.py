"""Checking and batching what users pass as images: one kind per list, one batch out."""

from __future__ import annotations

from typing import Any

import numpy as np
import PIL.Image

from ._image_arrays import is_tensor, is_valid_image_list


def as_image_list(image: Any, grey: bool = False) -> list[Any]:
    """`image` as a non-empty list of one kind of image (4-d batches joined into one).

    `grey`: a 3-d array or tensor is a batch of grey images (or one grey image with its
    channel axis), as a grey-converting processor reads it.
    """
    if grey:
        image = _add_grey_channel(image)
    if isinstance(image, list) and image and getattr(image[0], "ndim", 0) == 4:
        image = concat_images(image)
    if (isinstance(image, list) and not image) or not is_valid_image_list(image):
        raise ValueError(
            "image: expected a PIL image, a numpy array or torch tensor (2, 3 or 4 "
            f"dimensions), or a non-empty list of these; found {_describe(image)}"
        )
    items = image if isinstance(image, list) else [image]
    kinds = {_kind(item) for item in items}
    if len(kinds) > 1:
        raise ValueError(f"image: a list must hold one kind of image, found {sorted(kinds)}")
    return items


def _kind(image: Any) -> str:
    if isinstance(image, PIL.Image.Image):
        return "PIL.Image"
    return "numpy array" if isinstance(image, np.ndarray) else "torch tensor"


def _describe(image: Any) -> str:
    if isinstance(image, list):
        return f"a list of {sorted({type(item).__name__ for item in image})}"
    shape = getattr(image, "shape", None)
    return f"{type(image).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def _add_grey_channel(image: Any) -> Any:
    """A 3-d array or tensor given to a grey processor is a batch of grey images (or one grey
    image with its channel axis); give it the 4-d layout."""
    if getattr(image, "ndim", 0) != 3:
        return image
    if is_tensor(image):
        return image.unsqueeze(1)
    if image.shape[-1] == 1:
        return image[None]
    return image[..., None]


def concat_images(items: list[Any]) -> Any:
    """Join a list of images into one batch: 4-d items along the batch axis, others stacked."""
    if isinstance(items[0], np.ndarray):
        return np.concatenate(items) if items[0].ndim == 4 else np.stack(items)
    import torch

    return torch.cat(items) if items[0].ndim == 4 else torch.stack(items)
