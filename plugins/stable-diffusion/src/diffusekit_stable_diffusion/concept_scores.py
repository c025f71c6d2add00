"""The safety checker's decision rule, as plain tensor functions.

An image embedding is compared by cosine similarity with two sets of concept embeddings, each
concept with its own threshold. A score is ``similarity - threshold`` (plus an adjustment),
rounded to three decimals; a concept is present when its rounded score is above zero. When any
"special care" concept is present, every ordinary concept's score is raised by
`SPECIAL_CARE_ADJUSTMENT`, so images near a special-care concept are filtered more eagerly.
An image is flagged when any ordinary concept is present.

Scores are computed in float32 whatever the model's dtype, and rounding is done the way the
reference does it (scale by 1000, round half to even), so flags agree with it at the boundary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SPECIAL_CARE_ADJUSTMENT = 0.01
SCORE_DECIMALS = 3


def cosine_similarity(image_embeds: torch.Tensor, concept_embeds: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every image (rows) with every concept (columns), in float32."""
    images = F.normalize(image_embeds, dim=-1)
    concepts = F.normalize(concept_embeds, dim=-1)
    return (images @ concepts.T).float()


def concepts_present(
    similarity: torch.Tensor, thresholds: torch.Tensor, adjustment: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Boolean (images, concepts): rounded ``similarity - threshold + adjustment`` above zero.

    `adjustment` is a float or one value per image.
    """
    if isinstance(adjustment, torch.Tensor):
        adjustment = adjustment.reshape(-1, 1)
    scores = similarity - thresholds.float() + adjustment
    return torch.round(scores * 10**SCORE_DECIMALS) > 0


def nsfw_flags(
    image_embeds: torch.Tensor,
    special_care_embeds: torch.Tensor,
    special_care_thresholds: torch.Tensor,
    concept_embeds: torch.Tensor,
    concept_thresholds: torch.Tensor,
) -> torch.Tensor:
    """One boolean per image: does any concept clear its threshold."""
    special = concepts_present(
        cosine_similarity(image_embeds, special_care_embeds), special_care_thresholds
    )
    adjustment = special.any(dim=1).float() * SPECIAL_CARE_ADJUSTMENT
    concepts = concepts_present(
        cosine_similarity(image_embeds, concept_embeds), concept_thresholds, adjustment
    )
    return concepts.any(dim=1)
