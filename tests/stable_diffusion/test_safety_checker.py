"""StableDiffusionSafetyChecker on its own: flags, blacking out, the Safe variant, files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from diffusekit_stable_diffusion.safety_checker import (
    SafeStableDiffusionSafetyChecker,
    StableDiffusionSafetyChecker,
)
from diffusekit_stable_diffusion.testing import aim_concepts, tiny_clip_config
from safetensors.torch import load_file, save_file

FLAGGED = (0, 2)
BATCH = 4


@pytest.fixture(scope="module")
def clip_input() -> torch.Tensor:
    return torch.randn(BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _checker(cls: type, clip_input: torch.Tensor) -> StableDiffusionSafetyChecker:
    torch.manual_seed(0)
    checker = cls(tiny_clip_config()).eval()
    aim_concepts(checker, clip_input, FLAGGED)
    return checker


@pytest.fixture(scope="module")
def checker(clip_input: torch.Tensor) -> StableDiffusionSafetyChecker:
    return _checker(StableDiffusionSafetyChecker, clip_input)


def _images(kind: str):
    pixels = torch.rand(BATCH, 8, 8, 3, generator=torch.Generator().manual_seed(1)) + 0.1
    if kind == "torch":
        return pixels.permute(0, 3, 1, 2).contiguous()
    if kind == "numpy":
        return pixels.numpy()
    if kind == "torch-list":
        return list(pixels.unbind(0))
    return [image.numpy() for image in pixels.unbind(0)]


def _copy(images):
    if isinstance(images, list):
        return [image.clone() if torch.is_tensor(image) else image.copy() for image in images]
    return images.clone() if torch.is_tensor(images) else images.copy()


def _as_numpy(image) -> np.ndarray:
    return image.numpy() if torch.is_tensor(image) else np.asarray(image)


def test_reference_key_names_and_shapes(checker):
    state = checker.state_dict()
    assert state["concept_embeds"].shape == (17, 32)
    assert state["special_care_embeds"].shape == (3, 32)
    assert state["concept_embeds_weights"].shape == (17,)
    assert state["special_care_embeds_weights"].shape == (3,)
    assert state["visual_projection.weight"].shape == (32, 32)
    assert "vision_model.embeddings.patch_embedding.weight" in state
    concepts = ("concept_embeds", "special_care_embeds")
    for name in (*concepts, *(f"{concept}_weights" for concept in concepts)):
        assert not getattr(checker, name).requires_grad, f"{name} should be frozen"


def test_fresh_checker_has_the_reference_initial_concepts():
    checker = StableDiffusionSafetyChecker(tiny_clip_config())
    for name in ("concept_embeds", "special_care_embeds"):
        assert torch.equal(getattr(checker, name), torch.ones_like(getattr(checker, name)))
    for name in ("concept_embeds_weights", "special_care_embeds_weights"):
        assert torch.equal(getattr(checker, name), torch.ones_like(getattr(checker, name)))


def test_flags_are_one_bool_per_image(checker, clip_input):
    _, flags = checker(clip_input, _images("numpy"))
    assert isinstance(flags, list)
    assert all(type(flag) is bool for flag in flags)
    assert flags == [index in FLAGGED for index in range(BATCH)]


@pytest.mark.parametrize("kind", ["torch", "numpy", "torch-list", "numpy-list"])
def test_flagged_images_are_black_and_the_others_untouched(checker, clip_input, kind):
    images = _images(kind)
    original = _copy(images)
    result, flags = checker(clip_input, images)
    assert type(result) is type(images)
    for index in range(BATCH):
        got, before = _as_numpy(result[index]), _as_numpy(original[index])
        assert got.shape == before.shape and got.dtype == before.dtype
        if flags[index]:
            assert not got.any(), f"image {index} was flagged but is not black"
        else:
            np.testing.assert_array_equal(got, before)
    for index in range(BATCH):
        np.testing.assert_array_equal(_as_numpy(images[index]), _as_numpy(original[index]))


def test_nothing_flagged_returns_images_as_given(checker, clip_input):
    images = _images("torch")
    saved = checker.concept_embeds_weights.clone()
    checker.concept_embeds_weights.fill_(2.0)
    try:
        result, flags = checker(clip_input, images)
    finally:
        checker.concept_embeds_weights.copy_(saved)
    assert flags == [False] * BATCH
    assert result is images


def test_safe_checker_flags_alike_and_leaves_images(clip_input):
    safe = _checker(SafeStableDiffusionSafetyChecker, clip_input)
    images = _images("numpy")
    original = images.copy()
    result, flags = safe(clip_input, images)
    assert flags == [index in FLAGGED for index in range(BATCH)]
    np.testing.assert_array_equal(result, original)


def test_mismatched_image_count_is_an_error(checker, clip_input):
    with pytest.raises(ValueError, match="4 flags for 3 images"):
        checker(clip_input, _images("torch")[:3])


@pytest.mark.parametrize("cls", [StableDiffusionSafetyChecker, SafeStableDiffusionSafetyChecker])
def test_save_and_load_round_trip(tmp_path, clip_input, cls):
    checker = _checker(cls, clip_input)
    checker.save_pretrained(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "clip"
    assert config["architectures"] == [cls.__name__]
    loaded = cls.from_pretrained(tmp_path, use_safetensors=True).eval()
    mine, theirs = checker.state_dict(), loaded.state_dict()
    assert sorted(mine) == sorted(theirs)
    for key, value in mine.items():
        assert torch.equal(theirs[key], value), key
    assert loaded.flag(clip_input) == [index in FLAGGED for index in range(BATCH)]


def test_nested_vision_keys_of_older_checkpoints_load(tmp_path, checker, clip_input):
    """Checkpoints written with transformers 4 nest the tower: ``vision_model.vision_model.*``."""
    checker.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    nested = {
        ("vision_model." + key if key.startswith("vision_model.") else key): value
        for key, value in weights.items()
    }
    assert "vision_model.vision_model.embeddings.class_embedding" in nested
    save_file(nested, tmp_path / "model.safetensors", metadata={"format": "pt"})
    loaded = StableDiffusionSafetyChecker.from_pretrained(tmp_path, use_safetensors=True)
    for key, value in checker.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.flag(clip_input) == checker.flag(clip_input)


def test_half_precision_checker_flags_like_float32(checker, clip_input):
    half = _checker(StableDiffusionSafetyChecker, clip_input).to(torch.bfloat16)
    flags = half.flag(clip_input.to(torch.bfloat16))
    assert flags == checker.flag(clip_input)
