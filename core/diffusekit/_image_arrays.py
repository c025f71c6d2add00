"""Conversions between PIL images, numpy arrays and torch tensors, and value-range maps.

Layouts: numpy images are (batch, height, width, channels) floats in [0, 1]; tensors are
(batch, channels, height, width). torch is imported only by the functions that make tensors,
and a value can only be a tensor if something already imported torch.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import PIL.Image

if TYPE_CHECKING:
    import torch

ArrayOrTensor = TypeVar("ArrayOrTensor", "np.ndarray", "torch.Tensor")


def is_tensor(value: Any) -> bool:
    """True for a torch tensor, without importing torch when nobody else has."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def is_valid_image(image: Any) -> bool:
    """A PIL image, or one array / tensor image with 2 (grey) or 3 dimensions."""
    if isinstance(image, PIL.Image.Image):
        return True
    return (isinstance(image, np.ndarray) or is_tensor(image)) and image.ndim in (2, 3)


def is_valid_image_list(images: Any) -> bool:
    """A batch (4-d array or tensor), a single valid image, or a list of valid images."""
    if (isinstance(images, np.ndarray) or is_tensor(images)) and images.ndim == 4:
        return True
    if isinstance(images, list):
        return all(is_valid_image(image) for image in images)
    return is_valid_image(images)


def pil_to_numpy(images: PIL.Image.Image | list[PIL.Image.Image]) -> np.ndarray:
    """PIL image(s) -> float32 array (batch, height, width[, channels]) in [0, 1]."""
    if not isinstance(images, list):
        images = [images]
    return np.stack([np.asarray(image).astype(np.float32) / 255.0 for image in images])


def numpy_to_pil(images: np.ndarray) -> list[PIL.Image.Image]:
    """Array (batch, height, width, channels) or one (height, width, channels) -> PIL images.

    Values are clipped to [0, 1] first, so out-of-range pixels saturate instead of wrapping
    around in the uint8 conversion. One channel gives mode ``"L"``.
    """
    if images.ndim == 3:
        images = images[None]
    pixels = (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    return [PIL.Image.fromarray(np.ascontiguousarray(image)) for image in pixels]


def numpy_to_pt(images: np.ndarray) -> torch.Tensor:
    """Array (batch, height, width[, channels]) -> tensor (batch, channels, height, width).

    A 3-d array is read as a batch of one-channel images. The tensor shares the array's memory.
    """
    import torch

    if images.ndim == 3:
        images = images[..., None]
    return torch.from_numpy(images.transpose(0, 3, 1, 2))


def pt_to_numpy(images: torch.Tensor) -> np.ndarray:
    """Tensor (batch, channels, height, width) -> float32 array (batch, height, width, channels)."""
    return images.detach().cpu().permute(0, 2, 3, 1).float().numpy()


def normalize(images: ArrayOrTensor) -> ArrayOrTensor:
    """[0, 1] -> [-1, 1], the range the VAE encoder expects."""
    return 2.0 * images - 1.0


def denormalize(images: ArrayOrTensor) -> ArrayOrTensor:
    """[-1, 1] -> [0, 1], clamping what the decoder overshoots."""
    shifted = images * 0.5 + 0.5
    if isinstance(shifted, np.ndarray):
        return np.clip(shifted, 0.0, 1.0)
    return shifted.clamp(0, 1)


def binarize(images: ArrayOrTensor) -> ArrayOrTensor:
    """Values below 0.5 become 0, the others 1; a new array or tensor, the input is untouched."""
    if isinstance(images, np.ndarray):
        return (images >= 0.5).astype(images.dtype)
    return (images >= 0.5).to(images.dtype)
