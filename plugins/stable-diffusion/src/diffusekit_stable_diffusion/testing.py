"""Tiny safety checkers for tests: a small CLIP config and concepts aimed at chosen images.

Random CLIP towers embed all images close together, so random concepts flag all images or
none. `aim_concepts` points one concept at each image to flag, along that image's offset from
the mean of the images that must pass, with a threshold halfway between that image's
similarity and the highest similarity of an image that must pass. It works on any module with
the checker's attribute names (``vision_model``, ``visual_projection``, ``concept_embeds``,
...), the reference's too.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import torch
from transformers import CLIPConfig

from .concept_scores import SCORE_DECIMALS, cosine_similarity

NEVER = 2.0
"""A threshold no cosine similarity reaches."""

MARGIN = 20 * 10**-SCORE_DECIMALS
"""Least gap between flagged and passing images' similarities that `aim_concepts` accepts:
each side of the threshold is ten rounding steps away from it."""


def tiny_clip_config(**vision: Any) -> CLIPConfig:
    """CLIP with a 2-layer, 32-wide vision tower on 32x32 images (patches of 4)."""
    vision_config = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 4,
        **vision,
    }
    text_config = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 99,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 1,
    }
    return CLIPConfig(text_config=text_config, vision_config=vision_config, projection_dim=32)


@torch.no_grad()
def projected_embeds(checker: torch.nn.Module, clip_input: torch.Tensor) -> torch.Tensor:
    pooled = checker.vision_model(pixel_values=clip_input).pooler_output
    return checker.visual_projection(pooled)


@torch.no_grad()
def aim_concepts(
    checker: torch.nn.Module, clip_input: torch.Tensor, flagged: Collection[int]
) -> None:
    """Set `checker`'s concepts so that exactly the images at indices `flagged` are flagged.

    No special-care concept fires. Raises ValueError when the images are too alike to split
    with a margin of `MARGIN` (choose other inputs then).
    """
    embeds = projected_embeds(checker, clip_input).float()
    passing = [index for index in range(len(embeds)) if index not in flagged]
    checker.concept_embeds.fill_(1.0)
    checker.concept_embeds_weights.fill_(NEVER)
    checker.special_care_embeds_weights.fill_(NEVER)
    if len(flagged) > len(checker.concept_embeds):
        raise ValueError(
            f"aim_concepts: one concept per flagged image, and the checker has "
            f"{len(checker.concept_embeds)}; asked to flag {len(flagged)}"
        )
    away_from = embeds[passing].mean(dim=0) if passing else embeds.mean(dim=0)
    for slot, index in enumerate(sorted(flagged)):
        direction = embeds[index] - away_from
        similarity = cosine_similarity(embeds, direction[None])[:, 0]
        highest_passing = similarity[passing].max() if passing else similarity.min() - 1
        gap = similarity[index] - highest_passing
        if gap < MARGIN:
            raise ValueError(
                f"aim_concepts: image {index} is too close to a passing image "
                f"(similarity gap {gap:.4f}, need {MARGIN}); use more distinct inputs"
            )
        checker.concept_embeds[slot] = direction.to(checker.concept_embeds.dtype)
        checker.concept_embeds_weights[slot] = (similarity[index] + highest_passing) / 2
