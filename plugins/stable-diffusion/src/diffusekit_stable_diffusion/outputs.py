"""What the Stable Diffusion pipelines return (field names and order as the reference's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from diffusekit.outputs import BaseOutput

if TYPE_CHECKING:
    import numpy as np
    import PIL.Image
    import torch

    PipelineImages = list[PIL.Image.Image] | np.ndarray | torch.Tensor


@dataclass
class StableDiffusionPipelineOutput(BaseOutput):
    """Images and, per image, whether the safety checker flagged it.

    `images` is a list of PIL images, an array (batch, height, width, channels) or a tensor,
    following ``output_type``. `nsfw_content_detected` is None when no safety checker ran.
    """

    images: PipelineImages
    nsfw_content_detected: list[bool] | None


@dataclass
class StableDiffusionSafePipelineOutput(BaseOutput):
    """The Safe Stable Diffusion pipeline's output.

    `unsafe_images` holds the flagged images as generated (None when no check ran), while
    `images` has them blacked out; `applied_safety_concept` is the safety prompt used for safety
    guidance, or None when safety guidance was off.
    """

    images: PipelineImages
    nsfw_content_detected: list[bool] | None
    unsafe_images: PipelineImages | None
    applied_safety_concept: str | None
