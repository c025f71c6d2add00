"""The x4 upscaler against the reference: a tiny upscaler built and saved by the reference
loads with `DiffusionPipeline.from_pretrained` and upscales to the same images for the same
seed, for each of several schedulers swapped in with `from_config`.

Cases: one image with classifier-free guidance and a negative prompt; two prompts with two
images and one generator per image; a PIL image whose sides are not multiples of the VAE's
scale factor (bicubic resize); no guidance (`guidance_scale=1`) with two images per prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_stable_diffusion import tiny_upscale  # noqa: E402

from diffusekit import DiffusionPipeline  # noqa: E402

from ._reference import run, swap_scheduler, text_encoder_and_tokenizer  # noqa: E402

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("one_torch_thread")]

ATOL = 1e-3
SCHEDULERS = [
    "DDIMScheduler",
    "DDPMScheduler",
    "EulerDiscreteScheduler",
    "DPMSolverMultistepScheduler",
]


def _reference_upscaler(folder: Path) -> Any:
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(**tiny_upscale.UNET).eval()
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(**tiny_upscale.VAE).eval()
    text_encoder, tokenizer = text_encoder_and_tokenizer(folder)
    return diffusers.StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        low_res_scheduler=diffusers.DDPMScheduler(**tiny_upscale.LOW_RES_SCHEDULER),
        scheduler=diffusers.DDIMScheduler(**tiny_upscale.SCHEDULER),
        max_noise_level=tiny_upscale.MAX_NOISE_LEVEL,
    )


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upscaler")
    _reference_upscaler(folder).save_pretrained(folder / "checkpoint")
    reference = diffusers.DiffusionPipeline.from_pretrained(folder / "checkpoint")
    ours = DiffusionPipeline.from_pretrained(folder / "checkpoint")
    assert type(ours).__name__ == "StableDiffusionUpscalePipeline"
    assert type(ours.low_res_scheduler).__name__ == "DDPMScheduler"
    for pipe in (reference, ours):
        pipe.set_progress_bar_config(disable=True)
    return reference, ours


def _image(seed: int, batch: int = 1, size: int = 8) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _pil(seed: int, size: int = 10) -> PIL.Image.Image:
    pixels = (_image(seed, size=size)[0].permute(1, 2, 0).numpy() * 255).round()
    return PIL.Image.fromarray(pixels.astype(np.uint8))


CASES: dict[str, dict[str, Any]] = {
    "guided": {"prompt": "hello", "negative_prompt": "cab", "image": _image(1)},
    "two-prompts": {
        "prompt": ["hello", "abc"],
        "image": _image(2, batch=2),
        "noise_level": 100,
        "generators": 2,
    },
    "pil-bicubic": {"prompt": "hello", "image": _pil(3), "noise_level": 0},
    "unguided": {
        "prompt": "hello",
        "image": _image(4),
        "guidance_scale": 1.0,
        "num_images_per_prompt": 2,
        "generators": 2,
    },
}


RESULTS: dict[tuple[str, str], float] = {}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_same_images_as_the_reference(pair, case, scheduler):
    reference, ours = pair
    swap_scheduler(reference, ours, scheduler)

    expected = run(reference, CASES[case])
    found = run(ours, CASES[case])

    assert found.images.shape == expected.images.shape
    difference = float(np.abs(found.images - expected.images).max())
    RESULTS[(case, scheduler)] = difference
    assert difference <= ATOL, f"{case} with {scheduler}: max abs difference {difference}"
    assert found.nsfw_content_detected is expected.nsfw_content_detected is None


def test_latents_output_matches(pair):
    reference, ours = pair
    call = {"prompt": "hello", "image": _image(5), "output_type": "latent"}
    kwargs = {"num_inference_steps": 2, "generator": torch.Generator().manual_seed(0)}
    expected = reference(**call, **kwargs).images
    kwargs["generator"] = torch.Generator().manual_seed(0)
    found = ours(**call, **kwargs).images
    assert found.shape == expected.shape == (1, 4, 8, 8)
    assert torch.allclose(found, expected, atol=ATOL)


def test_report_differences():
    """Prints the table of max abs differences (run with -s to see it)."""
    for (case, scheduler), difference in sorted(RESULTS.items()):
        print(f"upscale {case:14s} {scheduler:30s} {difference:.2e}")
    assert all(value <= ATOL for value in RESULTS.values())
