"""The safety checkers against the reference: files both ways, flags, blacked-out images."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import PIL.Image
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_stable_diffusion.concept_scores import cosine_similarity  # noqa: E402
from diffusekit_stable_diffusion.safety_check import run_safety_checker  # noqa: E402
from diffusekit_stable_diffusion.safety_checker import (  # noqa: E402
    SafeStableDiffusionSafetyChecker,
    StableDiffusionSafetyChecker,
)
from diffusekit_stable_diffusion.testing import (  # noqa: E402
    NEVER,
    aim_concepts,
    projected_embeds,
    tiny_clip_config,
)
from diffusers import StableDiffusionPipeline  # noqa: E402
from diffusers.image_processor import VaeImageProcessor  # noqa: E402
from diffusers.pipelines.deprecated.stable_diffusion_safe.safety_checker import (  # noqa: E402
    SafeStableDiffusionSafetyChecker as ReferenceSafeChecker,
)
from diffusers.pipelines.stable_diffusion.safety_checker import (  # noqa: E402
    StableDiffusionSafetyChecker as ReferenceChecker,
)
from safetensors.torch import load_file  # noqa: E402
from transformers import CLIPConfig, CLIPImageProcessor  # noqa: E402

pytestmark = pytest.mark.parity

BATCH = 6
FLAGGED = (1, 4)
PAIRS = {
    "checker": (ReferenceChecker, StableDiffusionSafetyChecker),
    "safe-checker": (ReferenceSafeChecker, SafeStableDiffusionSafetyChecker),
}


@pytest.fixture(scope="module")
def clip_input() -> torch.Tensor:
    return torch.randn(BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _random_checker(cls: type, clip_input: torch.Tensor, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    checker = cls(tiny_clip_config()).eval()
    aim_concepts(checker, clip_input, FLAGGED)
    return checker


def _images(kind: str):
    pixels = torch.rand(BATCH, 8, 8, 3, generator=torch.Generator().manual_seed(1)) + 0.1
    return {
        "numpy": lambda: pixels.numpy().copy(),
        "torch": lambda: pixels.permute(0, 3, 1, 2).clone(),
        "numpy-list": lambda: [image.numpy().copy() for image in pixels],
        "torch-list": lambda: [image.clone() for image in pixels],
    }[kind]


def _assert_same_state(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert sorted(mine) == sorted(reference)
    for key, value in reference.items():
        assert torch.equal(mine[key], value), f"{key} differs after loading"


def _assert_same_images(ours, theirs) -> None:
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(reference))


def _assert_same_results(ours, theirs, clip_input, kind: str) -> list[bool]:
    make = _images(kind)
    our_images, our_flags = ours(clip_input, make())
    their_images, their_flags = theirs(clip_input, make())
    assert our_flags == list(their_flags)
    _assert_same_images(our_images, their_images)
    return our_flags


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("kind", ["numpy", "torch", "numpy-list", "torch-list"])
def test_reference_checkpoint_loads_and_flags_alike(tmp_path, clip_input, pair, kind):
    reference_class, our_class = PAIRS[pair]
    reference = _random_checker(reference_class, clip_input)
    reference.save_pretrained(tmp_path)
    ours = our_class.from_pretrained(tmp_path, use_safetensors=True).eval()
    _assert_same_state(ours, reference)
    flags = _assert_same_results(ours, reference, clip_input, kind)
    assert flags == [index in FLAGGED for index in range(BATCH)]


REFERENCE_SAFE_LOAD_BUG = pytest.mark.xfail(
    raises=AttributeError,
    strict=True,
    reason="the reference's SafeStableDiffusionSafetyChecker skips post_init(), so transformers 5 "
    "cannot load it with from_pretrained, not even from files the reference wrote",
)


@pytest.mark.parametrize(
    "pair", ["checker", pytest.param("safe-checker", marks=REFERENCE_SAFE_LOAD_BUG)]
)
def test_our_checkpoint_loads_in_the_reference(tmp_path, clip_input, pair):
    reference_class, our_class = PAIRS[pair]
    ours = _random_checker(our_class, clip_input, seed=1)
    ours.save_pretrained(tmp_path)
    reference = reference_class.from_pretrained(tmp_path, use_safetensors=True).eval()
    _assert_same_state(ours, reference)
    flags = _assert_same_results(ours, reference, clip_input, "numpy")
    assert flags == [index in FLAGGED for index in range(BATCH)]


def test_our_safe_checkpoint_files_hold_the_reference_safe_checker(tmp_path, clip_input):
    """What the reference would load, without its broken from_pretrained: config and weights."""
    ours = _random_checker(SafeStableDiffusionSafetyChecker, clip_input, seed=1)
    ours.save_pretrained(tmp_path)
    reference = ReferenceSafeChecker(CLIPConfig.from_pretrained(tmp_path)).eval()
    reference.load_state_dict(load_file(tmp_path / "model.safetensors"), strict=True)
    _assert_same_state(ours, reference)
    flags = _assert_same_results(ours, reference, clip_input, "torch")
    assert flags == [index in FLAGGED for index in range(BATCH)]


def _thresholds_at_the_edges(checker, clip_input, special_offset: float) -> None:
    """Concept k aimed at image k, its threshold a hair or a special-care step from its score."""
    embeds = projected_embeds(checker, clip_input).float()
    directions = embeds - embeds.mean(dim=0)
    similarity = cosine_similarity(embeds, directions)
    offsets = torch.tensor([0.0004, 0.0006, -0.004, -0.006, -0.012, 0.02])
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(NEVER)
        checker.concept_embeds[:BATCH] = directions
        checker.concept_embeds_weights[:BATCH] = similarity.diagonal() - offsets
        checker.special_care_embeds[0] = directions[2]
        checker.special_care_embeds_weights.fill_(NEVER)
        checker.special_care_embeds_weights[0] = similarity[2, 2] - special_offset


@pytest.mark.parametrize("special_offset", [0.0006, 0.0004, 0.3])
def test_rounding_and_special_care_decide_alike(tmp_path, clip_input, special_offset):
    ours = _random_checker(StableDiffusionSafetyChecker, clip_input)
    _thresholds_at_the_edges(ours, clip_input, special_offset)
    ours.save_pretrained(tmp_path)
    reference = ReferenceChecker.from_pretrained(tmp_path, use_safetensors=True).eval()
    flags = _assert_same_results(ours, reference, clip_input, "numpy")
    assert any(flags) and not all(flags)
    without_care = _random_checker(StableDiffusionSafetyChecker, clip_input)
    _thresholds_at_the_edges(without_care, clip_input, special_offset=-1.0)
    if special_offset != 0.0004:
        assert flags != without_care.flag(clip_input), "special care should change a flag"


def test_bfloat16_checkers_flag_alike(tmp_path, clip_input):
    reference = _random_checker(ReferenceChecker, clip_input)
    reference.save_pretrained(tmp_path)
    ours = StableDiffusionSafetyChecker.from_pretrained(
        tmp_path, use_safetensors=True, dtype=torch.bfloat16
    )
    reference = reference.to(torch.bfloat16)
    _assert_same_results(ours, reference, clip_input.to(torch.bfloat16), "torch")


@pytest.mark.parametrize("kind", ["tensor", "array"])
def test_run_safety_checker_matches_the_reference_pipeline_step(clip_input, kind):
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    pixels = np.random.default_rng(0).integers(0, 256, size=(BATCH, 40, 48, 3), dtype=np.uint8)
    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(tiny_clip_config()).eval()
    pil = [PIL.Image.fromarray(image) for image in pixels]
    aim_concepts(checker, processor(pil, return_tensors="pt").pixel_values, FLAGGED)
    reference = ReferenceChecker(checker.config).eval()
    reference.load_state_dict(checker.state_dict())
    stand_in = SimpleNamespace(
        safety_checker=reference, feature_extractor=processor, image_processor=VaeImageProcessor()
    )
    if kind == "tensor":
        images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1
        copy = images.clone
    else:
        images = pixels.astype(np.float32) / 255
        copy = images.copy
    ours, our_flags = run_safety_checker(checker, processor, images, "cpu", torch.float32)
    theirs, their_flags = StableDiffusionPipeline.run_safety_checker(
        stand_in, copy(), "cpu", torch.float32
    )
    assert our_flags == their_flags == [index in FLAGGED for index in range(BATCH)]
    _assert_same_images(ours, theirs)
