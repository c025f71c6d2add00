"""The decision rule on hand-made embeddings, with expected flags worked out by hand."""

from __future__ import annotations

import pytest
import torch
from diffusekit_stable_diffusion.concept_scores import (
    concepts_present,
    cosine_similarity,
    nsfw_flags,
)

NEVER = torch.tensor([2.0])


def _t(*rows: tuple[float, ...]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_cosine_similarity_ignores_lengths():
    similarity = cosine_similarity(_t((3.0, 0.0), (0.0, 0.5)), _t((2.0, 2.0), (0.0, -1.0)))
    half_sqrt2 = 2**-0.5
    torch.testing.assert_close(similarity, _t((half_sqrt2, 0.0), (half_sqrt2, -1.0)))


@pytest.mark.parametrize(
    ("threshold", "present"),
    [(0.9996, False), (0.9994, True), (1.0, False), (0.5, True), (1.2, False)],
)
def test_scores_count_from_the_third_decimal(threshold, present):
    """1 - 0.9996 rounds to 0.000 (absent); 1 - 0.9994 rounds to 0.001 (present)."""
    result = concepts_present(_t((1.0,)), torch.tensor([threshold]))
    assert result.tolist() == [[present]]


def test_special_care_lowers_every_concept_threshold_by_one_hundredth():
    images = _t((1.0, 0.0), (0.0, 1.0))
    special = _t((1.0, 0.0))
    concepts = _t((1.0, 0.0), (0.0, 1.0))
    just_above = torch.tensor([1.005, 1.005])
    with_care = nsfw_flags(images, special, torch.tensor([0.9]), concepts, just_above)
    without_care = nsfw_flags(images, special, NEVER, concepts, just_above)
    assert with_care.tolist() == [True, False]
    assert without_care.tolist() == [False, False]


def test_adjustment_is_not_enough_beyond_one_hundredth():
    flags = nsfw_flags(
        _t((1.0, 0.0)), _t((1.0, 0.0)), torch.tensor([0.9]), _t((1.0, 0.0)), torch.tensor([1.02])
    )
    assert flags.tolist() == [False]


def test_special_care_alone_does_not_flag():
    flags = nsfw_flags(
        _t((1.0, 0.0)), _t((1.0, 0.0)), torch.tensor([0.0]), _t((0.0, 1.0)), torch.tensor([0.5])
    )
    assert flags.tolist() == [False]


def test_any_concept_flags_the_image():
    concepts = _t((0.0, 1.0), (1.0, 0.0), (-1.0, 0.0))
    thresholds = torch.tensor([0.5, 0.5, 0.5])
    flags = nsfw_flags(_t((1.0, 0.0), (0.6, -0.8)), _t((0.0, 1.0)), NEVER, concepts, thresholds)
    assert flags.tolist() == [True, True]  # cos 1.0 with concept 1; cos 0.6 with concept 1
