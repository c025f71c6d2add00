"""Argument checks shared by the Stable Diffusion pipelines, run before any model is called.

Each check raises ValueError (TypeError for a wrong type) naming the argument, what was
expected and what was found.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import PIL.Image
import torch

from diffusekit.image import OUTPUT_TYPES


def check_size(height: int, width: int, vae_scale_factor: int) -> None:
    """Both sides must be multiples of 8 (and of the VAE's downsampling factor)."""
    multiple = math.lcm(8, vae_scale_factor)
    for name, value in (("height", height), ("width", width)):
        if value % multiple != 0:
            raise ValueError(f"{name}: expected a multiple of {multiple}, found {value}")


def check_run(
    output_type: str, num_inference_steps: int, timesteps: Any = None, sigmas: Any = None
) -> None:
    """A known output type, and at least one step unless a custom schedule is given."""
    if output_type not in OUTPUT_TYPES:
        raise ValueError(
            f"output_type: expected one of {list(OUTPUT_TYPES)}, found {output_type!r}"
        )
    if timesteps is None and sigmas is None and num_inference_steps < 1:
        raise ValueError(f"num_inference_steps: expected at least 1, found {num_inference_steps}")


def check_strength(strength: float) -> None:
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength: expected a value in [0, 1], found {strength}")


def check_prompt(
    prompt: Any,
    prompt_embeds: torch.Tensor | None,
    negative_prompt: Any,
    negative_prompt_embeds: torch.Tensor | None,
) -> None:
    """Exactly one of prompt / prompt_embeds; at most one of their negative counterparts."""
    if prompt is not None and prompt_embeds is not None:
        raise ValueError("prompt, prompt_embeds: pass one of them, found both")
    if prompt is None and prompt_embeds is None:
        raise ValueError("prompt, prompt_embeds: pass one of them, found neither")
    if prompt is not None and not _is_text(prompt):
        raise TypeError(f"prompt: expected a str or a list of str, found {_describe(prompt)}")
    if negative_prompt is not None and negative_prompt_embeds is not None:
        raise ValueError(
            "negative_prompt, negative_prompt_embeds: pass at most one of them, found both"
        )
    if negative_prompt is not None and not _is_text(negative_prompt):
        raise TypeError(
            f"negative_prompt: expected a str or a list of str, found {_describe(negative_prompt)}"
        )
    if (
        prompt_embeds is not None
        and negative_prompt_embeds is not None
        and prompt_embeds.shape != negative_prompt_embeds.shape
    ):
        raise ValueError(
            "negative_prompt_embeds: expected the shape of prompt_embeds "
            f"{tuple(prompt_embeds.shape)}, found {tuple(negative_prompt_embeds.shape)}"
        )


def prompt_batch_size(prompt: str | list[str] | None, prompt_embeds: torch.Tensor | None) -> int:
    if isinstance(prompt, str):
        return 1
    if isinstance(prompt, list):
        return len(prompt)
    assert prompt_embeds is not None
    return prompt_embeds.shape[0]


def check_image_given(name: str, image: Any) -> None:
    if image is None:
        raise ValueError(f"{name}: required, found None")


def check_same_size(image: Any, mask_image: Any) -> None:
    """The mask must cover the image pixel for pixel (latent inputs are not compared)."""
    image_size = spatial_size(image, grey=False)
    mask_size = spatial_size(mask_image, grey=True)
    if image_size is not None and mask_size is not None and image_size != mask_size:
        raise ValueError(
            f"mask_image: expected the size of image (height, width) = {image_size}, "
            f"found {mask_size}"
        )


def check_mask_crop(image: Any, mask_image: Any, output_type: str) -> None:
    """`padding_mask_crop` pastes the result back into the original PIL image."""
    for name, value in (("image", image), ("mask_image", mask_image)):
        if not isinstance(value, PIL.Image.Image):
            raise ValueError(
                f"{name}: padding_mask_crop needs a PIL image, found {type(value).__name__}"
            )
    if output_type != "pil":
        raise ValueError(f"output_type: padding_mask_crop needs 'pil', found {output_type!r}")


def spatial_size(image: Any, *, grey: bool) -> tuple[int, int] | None:
    """(height, width) of a user image or mask as `VaeImageProcessor` reads it.

    None for a tensor of latents (4 channels) or anything that is not an image.
    """
    if isinstance(image, list):
        return spatial_size(image[0], grey=grey) if image else None
    if isinstance(image, PIL.Image.Image):
        return image.height, image.width
    if isinstance(image, torch.Tensor):
        if image.ndim == 4 and image.shape[1] == 4:
            return None
        return (int(image.shape[-2]), int(image.shape[-1])) if image.ndim >= 2 else None
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            return image.shape[0], image.shape[1]
        if image.ndim == 3 and grey and image.shape[-1] != 1:
            return image.shape[1], image.shape[2]
        if image.ndim == 3:
            return image.shape[0], image.shape[1]
        if image.ndim == 4:
            return image.shape[1], image.shape[2]
    return None


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    )


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {sorted({type(item).__name__ for item in value})}"
    return type(value).__name__
