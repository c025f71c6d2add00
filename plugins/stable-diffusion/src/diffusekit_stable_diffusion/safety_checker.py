"""The Stable Diffusion safety checker: a CLIP image tower scoring images against concepts.

The checker embeds each image with CLIP's vision tower and projection (Radford et al. 2021,
"Learning Transferable Visual Models From Natural Language Supervision") and compares the
embedding with 17 concept embeddings and 3 "special care" embeddings shipped in the weights,
each with its own threshold; see `concept_scores` for the rule. The concepts are opaque
vectors; Rando et al. 2022, "Red-Teaming the Stable Diffusion Safety Filter", describe what
they cover and how the filter fails.

Checkpoints are the reference's: a transformers ``CLIPConfig`` in ``config.json`` and the
weights in ``model.safetensors`` under the key names ``vision_model.*``,
``visual_projection.weight``, ``concept_embeds``, ``special_care_embeds``,
``concept_embeds_weights`` and ``special_care_embeds_weights`` (the thresholds).
"""

from __future__ import annotations

import logging
from typing import ClassVar, TypeVar

import torch
from torch import nn
from transformers import CLIPConfig, CLIPVisionModel, PreTrainedModel

from .black_out import black_out
from .concept_scores import nsfw_flags

logger = logging.getLogger(__name__)

NUM_CONCEPTS = 17
NUM_SPECIAL_CARE_CONCEPTS = 3

Images = TypeVar("Images")


class StableDiffusionSafetyChecker(PreTrainedModel):
    """Flags images close to unsafe concepts and replaces them with black images.

    ``checker(clip_input, images)`` returns ``(images, has_nsfw_concepts)``: `clip_input` is the
    CLIP image processor's ``pixel_values`` for the same images, `images` the pipeline's images
    (a batch tensor or array, or a list of them). Flagged images come back as zeros; the input
    container itself is not modified.
    """

    config_class = CLIPConfig
    main_input_name = "clip_input"
    _no_split_modules: ClassVar[list[str]] = ["CLIPEncoderLayer"]
    blacks_out_flagged: ClassVar[bool] = True

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__(config)
        width, dim = config.vision_config.hidden_size, config.projection_dim
        self.vision_model = CLIPVisionModel(config.vision_config)
        self.visual_projection = nn.Linear(width, dim, bias=False)
        self.concept_embeds = _frozen(torch.ones(NUM_CONCEPTS, dim))
        self.special_care_embeds = _frozen(torch.ones(NUM_SPECIAL_CARE_CONCEPTS, dim))
        self.concept_embeds_weights = _frozen(torch.ones(NUM_CONCEPTS))
        self.special_care_embeds_weights = _frozen(torch.ones(NUM_SPECIAL_CARE_CONCEPTS))
        self.post_init()

    def image_embeds(self, clip_input: torch.Tensor) -> torch.Tensor:
        """Projected CLIP embeddings (batch, projection_dim) of preprocessed images."""
        pooled = self.vision_model(pixel_values=clip_input).pooler_output
        return self.visual_projection(pooled)

    @torch.no_grad()
    def flag(self, clip_input: torch.Tensor) -> list[bool]:
        """One flag per image: True when the image is close to an unsafe concept."""
        flags = nsfw_flags(
            self.image_embeds(clip_input),
            self.special_care_embeds,
            self.special_care_embeds_weights,
            self.concept_embeds,
            self.concept_embeds_weights,
        )
        return flags.tolist()

    @torch.no_grad()
    def forward(self, clip_input: torch.Tensor, images: Images) -> tuple[Images, list[bool]]:
        flags = self.flag(clip_input)
        if not self.blacks_out_flagged:
            return images, flags
        if any(flags):
            logger.warning(
                "%s flagged %d of %d images as potential NSFW content; they are returned as "
                "black images. Try another prompt or seed.",
                type(self).__name__,
                sum(flags),
                len(flags),
            )
        return black_out(images, flags), flags


class SafeStableDiffusionSafetyChecker(StableDiffusionSafetyChecker):
    """The checker of Safe Latent Diffusion checkpoints: same weights and flags, images unchanged.

    The Safe Stable Diffusion pipeline decides itself what to show for a flagged image (it
    keeps the original in its output's ``unsafe_images``), so this checker only flags.
    """

    blacks_out_flagged: ClassVar[bool] = False


def _frozen(values: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(values, requires_grad=False)
