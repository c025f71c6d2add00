"""The safety-check step the Stable Diffusion pipelines share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import PIL.Image
import torch

from diffusekit.image import VaeImageProcessor

Images = TypeVar("Images", torch.Tensor, np.ndarray)


def run_safety_checker(
    safety_checker: Callable[..., tuple[Any, list[bool]]] | None,
    feature_extractor: Callable[..., Any] | None,
    images: Images,
    device: torch.device | str,
    dtype: torch.dtype,
) -> tuple[Images, list[bool] | None]:
    """Check decoded images; return them (flagged ones blacked out) and one flag per image.

    `images` is the VAE's output tensor (batch, channels, height, width) in [-1, 1], or an
    array (batch, height, width, channels) in [0, 1]. The checker sees them as PIL images
    through `feature_extractor` (a CLIP image processor), moved to `device` as `dtype`.
    Without a checker the images come back unchanged with None for the flags.
    """
    if safety_checker is None:
        return images, None
    if feature_extractor is None:
        raise ValueError(
            "run_safety_checker: a safety_checker needs a feature_extractor (a CLIP image "
            "processor) to prepare its input, found None"
        )
    features = feature_extractor(to_pil(images), return_tensors="pt")
    clip_input = features.pixel_values.to(device=device, dtype=dtype)
    return safety_checker(clip_input=clip_input, images=images)


def to_pil(images: torch.Tensor | np.ndarray) -> list[PIL.Image.Image]:
    """PIL images from a tensor in [-1, 1] (NCHW) or an array in [0, 1] (NHWC or HWC)."""
    if isinstance(images, torch.Tensor):
        images = VaeImageProcessor.pt_to_numpy(VaeImageProcessor.denormalize(images))
    return VaeImageProcessor.numpy_to_pil(images)
