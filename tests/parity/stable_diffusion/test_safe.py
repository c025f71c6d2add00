"""Safe Stable Diffusion against the reference: the reference's `StableDiffusionPipelineSafe`,
built from tiny components with its Safe safety checker and saved, loads with our
`DiffusionPipeline.from_pretrained` (the reference itself cannot load such checkpoints any
more) and gives the same images for the same seed, for several schedulers swapped in with
`from_config`.

Cases: safety guidance with the default settings past a short warm-up; a batch of prompts
with two images each, one generator per image and the paper's STRONG settings; safety
guidance off; no classifier-free guidance at all. A last test flags one image of two and
compares the black images and the unsafe images kept in the output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_stable_diffusion import SafetyConfig, tiny  # noqa: E402
from diffusekit_stable_diffusion.testing import NEVER, aim_concepts, tiny_clip_config  # noqa: E402
from diffusers.pipelines.deprecated.stable_diffusion_safe import (  # noqa: E402
    SafetyConfig as ReferenceSafetyConfig,
)
from diffusers.pipelines.deprecated.stable_diffusion_safe import (  # noqa: E402
    StableDiffusionPipelineSafe as ReferencePipelineSafe,
)
from diffusers.pipelines.deprecated.stable_diffusion_safe.safety_checker import (  # noqa: E402
    SafeStableDiffusionSafetyChecker as ReferenceSafeChecker,
)
from transformers import CLIPImageProcessor  # noqa: E402

from diffusekit import DiffusionPipeline  # noqa: E402
from diffusekit.errors import DiffusekitWarning  # noqa: E402

from ._reference import run, swap_scheduler, text_encoder_and_tokenizer  # noqa: E402

pytestmark = [
    pytest.mark.parity,
    pytest.mark.filterwarnings("ignore:Safety checker disabled:UserWarning"),
    pytest.mark.usefixtures("one_torch_thread"),
]

ATOL = 1e-3
SCHEDULERS = [
    "DDIMScheduler",
    "PNDMScheduler",
    "EulerDiscreteScheduler",
    "DPMSolverMultistepScheduler",
]


def _reference_pipeline(folder: Path) -> Any:
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(**tiny.unet_config("sd1")).eval()
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(**tiny.VAE).eval()
    text_encoder, tokenizer = text_encoder_and_tokenizer(folder)
    torch.manual_seed(0)
    checker = ReferenceSafeChecker(tiny_clip_config()).eval()
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(NEVER)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    return ReferencePipelineSafe(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=diffusers.DDIMScheduler(**tiny.scheduler_config("sd1")),
        safety_checker=checker,
        feature_extractor=processor,
    )


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("safe")
    reference = _reference_pipeline(folder)
    reference.save_pretrained(folder / "checkpoint")
    # The reference cannot load the folder; its scheduler is read back from the saved file so
    # that `from_config` carries the same fields on both sides.
    reference.scheduler = diffusers.DDIMScheduler.from_pretrained(
        folder / "checkpoint", subfolder="scheduler"
    )
    ours = DiffusionPipeline.from_pretrained(folder / "checkpoint")
    assert type(ours).__name__ == "StableDiffusionPipelineSafe"
    assert type(ours.safety_checker).__name__ == "SafeStableDiffusionSafetyChecker"
    for pipe in (reference, ours):
        pipe.set_progress_bar_config(disable=True)
    return reference, ours


CASES: dict[str, dict[str, Any]] = {
    "sld-default": {
        "prompt": "hello",
        "negative_prompt": "cab",
        "sld_warmup_steps": 1,
    },
    "sld-strong-batch": {
        "prompt": ["hello", "abc"],
        "num_images_per_prompt": 2,
        "generators": 4,
        **SafetyConfig.STRONG,
        "sld_warmup_steps": 2,
    },
    "sld-off": {"prompt": "hello", "sld_guidance_scale": 0.0},
    "unguided": {"prompt": "hello", "guidance_scale": 1.0},
}


def _run(pipe: Any, call: dict[str, Any]) -> Any:
    return run(pipe, call, steps=4)


def _ours(pipe: Any, call: dict[str, Any]) -> Any:
    sld_on = call.get("guidance_scale", 7.5) > 1 and call.get("sld_guidance_scale", 1000) > 1
    if sld_on:
        return _run(pipe, call)
    with pytest.warns(DiffusekitWarning, match="safety guidance is off"):
        return _run(pipe, call)


RESULTS: dict[tuple[str, str], float] = {}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_same_images_as_the_reference(pair, case, scheduler):
    reference, ours = pair
    swap_scheduler(reference, ours, scheduler)

    expected = _run(reference, CASES[case])
    found = _ours(ours, CASES[case])

    assert found.images.shape == expected.images.shape
    difference = float(np.abs(found.images - expected.images).max())
    RESULTS[(case, scheduler)] = difference
    assert difference <= ATOL, f"{case} with {scheduler}: max abs difference {difference}"
    assert found.nsfw_content_detected == expected.nsfw_content_detected
    assert found.applied_safety_concept == expected.applied_safety_concept


def test_flagged_image_is_black_and_kept_as_unsafe(pair):
    reference, ours = pair
    swap_scheduler(reference, ours, "DDIMScheduler")
    call = {"prompt": ["hello", "abc"], "sld_warmup_steps": 1}
    generated = _run(reference, call).images
    clip_input = reference.feature_extractor(
        reference.numpy_to_pil(generated), return_tensors="pt"
    ).pixel_values
    saved = {k: v.clone() for k, v in reference.safety_checker.state_dict().items()}
    aim_concepts(reference.safety_checker, clip_input, flagged=[1])
    ours.safety_checker.load_state_dict(reference.safety_checker.state_dict())
    try:
        expected, found = _run(reference, call), _run(ours, call)
    finally:
        reference.safety_checker.load_state_dict(saved)
        ours.safety_checker.load_state_dict(saved)

    assert found.nsfw_content_detected == [False, True]
    # The reference's loop over the flags reuses the list's name, so it returns the last flag.
    assert expected.nsfw_content_detected is True
    assert not found.images[1].any() and not expected.images[1].any()
    assert np.abs(found.images - expected.images).max() <= ATOL
    assert found.unsafe_images.shape == expected.unsafe_images.shape
    assert np.abs(found.unsafe_images - expected.unsafe_images).max() <= ATOL
    assert found.unsafe_images[1].any() and not found.unsafe_images[0].any()


def test_presets_and_concept_are_the_reference_s(pair):
    reference, ours = pair
    for name in ("WEAK", "MEDIUM", "STRONG", "MAX"):
        assert getattr(SafetyConfig, name) == getattr(ReferenceSafetyConfig, name)
    assert ours.safety_concept == reference.safety_concept


def test_report_differences():
    """Prints the table of max abs differences (run with -s to see it)."""
    for (case, scheduler), difference in sorted(RESULTS.items()):
        print(f"safe {case:18s} {scheduler:30s} {difference:.2e}")
    assert all(value <= ATOL for value in RESULTS.values())
