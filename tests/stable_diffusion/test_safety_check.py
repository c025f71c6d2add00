"""run_safety_checker: the pipelines' safety-check step, and its image conversion."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from diffusekit_stable_diffusion.safety_check import run_safety_checker, to_pil
from diffusekit_stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from diffusekit_stable_diffusion.testing import aim_concepts, tiny_clip_config
from transformers import CLIPImageProcessor


@pytest.fixture(scope="module")
def processor() -> CLIPImageProcessor:
    return CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})


def _pixels(batch: int = 3) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(batch, 40, 48, 3), dtype=np.uint8)


def _vae_output(pixels: np.ndarray) -> torch.Tensor:
    """What a VAE decode gives for these pixels: NCHW in [-1, 1]."""
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1


class RecordingChecker:
    def __init__(self) -> None:
        self.clip_input: torch.Tensor | None = None

    def __call__(self, clip_input, images):
        self.clip_input = clip_input
        return images, [False] * len(images)


def test_without_checker_images_pass_through_with_no_flags():
    images = torch.zeros(2, 3, 8, 8)
    result, flags = run_safety_checker(None, None, images, "cpu", torch.float32)
    assert result is images
    assert flags is None


def test_checker_without_feature_extractor_is_an_error():
    with pytest.raises(ValueError, match="feature_extractor"):
        run_safety_checker(RecordingChecker(), None, torch.zeros(1, 3, 8, 8), "cpu", torch.float32)


@pytest.mark.parametrize("kind", ["tensor", "array"])
def test_checker_sees_the_processor_output_of_the_images_as_pil(processor, kind):
    pixels = _pixels()
    images = _vae_output(pixels) if kind == "tensor" else pixels.astype(np.float32) / 255
    checker = RecordingChecker()
    run_safety_checker(checker, processor, images, "cpu", torch.float64)
    expected = processor([PIL.Image.fromarray(image) for image in pixels], return_tensors="pt")
    assert checker.clip_input.dtype == torch.float64
    torch.testing.assert_close(checker.clip_input, expected.pixel_values.double())


def test_to_pil_maps_the_value_ranges_to_bytes():
    tensor = torch.tensor([-1.0, 0.0, 1.0, 2.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    (image,) = to_pil(tensor)
    assert image.mode == "RGB"
    assert np.asarray(image)[0, :, 0].tolist() == [0, 128, 255, 255]
    grey = to_pil(np.array([[[0.0], [0.5], [1.0]]], dtype=np.float32))
    assert len(grey) == 1 and grey[0].mode == "L"
    assert np.asarray(grey[0]).tolist() == [[0, 128, 255]]


def test_flagged_images_come_back_black(processor):
    pixels = _pixels(4)
    images = _vae_output(pixels)
    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(tiny_clip_config()).eval()
    clip_input = processor([PIL.Image.fromarray(image) for image in pixels], return_tensors="pt")
    aim_concepts(checker, clip_input.pixel_values, flagged=[1])
    result, flags = run_safety_checker(checker, processor, images, "cpu", torch.float32)
    assert flags == [False, True, False, False]
    assert not result[1].any()
    torch.testing.assert_close(result[[0, 2, 3]], images[[0, 2, 3]], rtol=0, atol=0)
