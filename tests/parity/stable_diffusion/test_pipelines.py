"""Stable Diffusion pipelines against the reference: a tiny pipeline built and saved by the
reference loads with `DiffusionPipeline.from_pretrained` and gives the same images for the
same seed, for each of several schedulers swapped in with `from_config`.

Cases: SD 1 (epsilon) text-to-image with a safety checker, SD 2 (v-prediction, linear
projections, upcast attention) text-to-image with a batch of prompts and per-image generators,
image-to-image, and inpainting with a 9-channel inpainting UNet and with an ordinary UNet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_stable_diffusion import tiny  # noqa: E402
from diffusekit_stable_diffusion.testing import NEVER, tiny_clip_config  # noqa: E402
from transformers import (  # noqa: E402
    CLIPImageProcessor,
)

from diffusekit import DiffusionPipeline  # noqa: E402

from ._reference import run, swap_scheduler, text_encoder_and_tokenizer  # noqa: E402

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("one_torch_thread")]

ATOL = 1e-3
SCHEDULERS = [
    "DDIMScheduler",
    "PNDMScheduler",
    "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "LMSDiscreteScheduler",
]
PIPELINES = {
    "text2image": "StableDiffusionPipeline",
    "image2image": "StableDiffusionImg2ImgPipeline",
    "inpainting": "StableDiffusionInpaintPipeline",
}


def _reference_pipeline(
    kind: tiny.Kind, task: str, folder: Path, safety_checker: bool, **unet: Any
) -> Any:
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(**{**tiny.unet_config(kind), **unet}).eval()
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(**tiny.VAE).eval()
    text_encoder, tokenizer = text_encoder_and_tokenizer(folder)
    checker, processor = None, None
    if safety_checker:
        from diffusers.pipelines.stable_diffusion.safety_checker import (
            StableDiffusionSafetyChecker,
        )

        torch.manual_seed(0)
        checker = StableDiffusionSafetyChecker(tiny_clip_config()).eval()
        with torch.no_grad():
            checker.concept_embeds_weights.fill_(NEVER)
        processor = CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
    cls = getattr(diffusers, PIPELINES[task])
    return cls(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=diffusers.DDIMScheduler(**tiny.scheduler_config(kind)),
        safety_checker=checker,
        feature_extractor=processor,
        requires_safety_checker=safety_checker,
    )


def _pair(tmp_path_factory, kind: tiny.Kind, task: str, safety_checker: bool = False, **unet: Any):
    folder = tmp_path_factory.mktemp(f"{kind}-{task}")
    reference = _reference_pipeline(kind, task, folder, safety_checker, **unet)
    reference.save_pretrained(folder / "checkpoint")
    # Both sides load the saved files: an in-memory reference config would also remember
    # which fields were defaults, which changes what `from_config` carries to a new scheduler.
    reference = diffusers.DiffusionPipeline.from_pretrained(folder / "checkpoint")
    ours = DiffusionPipeline.from_pretrained(folder / "checkpoint")
    assert type(ours).__name__ == PIPELINES[task]
    for pipe in (reference, ours):
        pipe.set_progress_bar_config(disable=True)
    return reference, ours


def _image(seed: int, size: int = 16) -> torch.Tensor:
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _mask(size: int = 16) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., 4:12, 2:10] = 1.0
    return mask


CASES: dict[str, dict[str, Any]] = {
    "sd1-text2image": {
        "kind": "sd1",
        "task": "text2image",
        "safety_checker": True,
        "call": {"prompt": "hello", "negative_prompt": "cab", "guidance_rescale": 0.3},
    },
    "sd2-text2image-batch": {
        "kind": "sd2",
        "task": "text2image",
        "call": {"prompt": ["hello", "abc"], "num_images_per_prompt": 2, "generators": 4},
    },
    "sd1-image2image": {
        "kind": "sd1",
        "task": "image2image",
        "call": {"prompt": "hello", "image": _image(1), "strength": 0.6, "steps": 5},
    },
    "inpainting-9-channels": {
        "kind": "inpainting",
        "task": "inpainting",
        "call": {"prompt": "hello", "image": _image(2), "mask_image": _mask()},
    },
    "inpainting-4-channels": {
        "kind": "sd1",
        "task": "inpainting",
        "call": {"prompt": "hello", "image": _image(3), "mask_image": _mask(), "strength": 0.8},
    },
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request, tmp_path_factory):
    spec = CASES[request.param]
    reference, ours = _pair(
        tmp_path_factory, spec["kind"], spec["task"], spec.get("safety_checker", False)
    )
    return request.param, spec["call"], reference, ours


RESULTS: dict[tuple[str, str], float] = {}


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_same_images_as_the_reference(case, scheduler):
    name, call, reference, ours = case
    swap_scheduler(reference, ours, scheduler)

    expected = run(reference, call)
    found = run(ours, call)

    assert found.images.shape == expected.images.shape
    difference = float(np.abs(found.images - expected.images).max())
    RESULTS[(name, scheduler)] = difference
    assert difference <= ATOL, f"{name} with {scheduler}: max abs difference {difference}"
    assert found.nsfw_content_detected == expected.nsfw_content_detected


def test_flagged_images_are_black_in_both(tmp_path_factory):
    reference, ours = _pair(tmp_path_factory, "sd1", "text2image", safety_checker=True)
    for pipe in (reference, ours):
        with torch.no_grad():
            pipe.safety_checker.concept_embeds_weights.fill_(-NEVER)
    call = {"prompt": ["hello", "cab"]}

    expected, found = run(reference, call), run(ours, call)

    assert found.nsfw_content_detected == expected.nsfw_content_detected == [True, True]
    assert np.array_equal(found.images, expected.images)
    assert not found.images.any()


@pytest.mark.parametrize("scheduler", ["DDIMScheduler", "EulerDiscreteScheduler"])
def test_guidance_distilled_unet(tmp_path_factory, scheduler):
    """A UNet with `time_cond_proj_dim` gets the guidance scale embedded, without a guidance
    batch (latent consistency models)."""
    reference, ours = _pair(tmp_path_factory, "sd1", "text2image", time_cond_proj_dim=16)
    swap_scheduler(reference, ours, scheduler)
    call = {"prompt": "hello", "guidance_scale": 4.0}

    expected, found = run(reference, call), run(ours, call)

    difference = float(np.abs(found.images - expected.images).max())
    RESULTS[("guidance-distilled", scheduler)] = difference
    assert difference <= ATOL


def test_report_differences():
    """Prints the table of max abs differences (run with -s to see it)."""
    for (name, scheduler), difference in sorted(RESULTS.items()):
        print(f"{name:24s} {scheduler:34s} {difference:.2e}")
    assert all(value <= ATOL for value in RESULTS.values())
