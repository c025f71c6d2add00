"""Safe Stable Diffusion on tiny random components: the Safe Latent Diffusion guidance against
the paper's equations, the pipeline with safety guidance off equal to plain Stable Diffusion,
momentum state per call (sequential and concurrent calls), flagged images kept as unsafe
images, input checks, callbacks, and loading checkpoints that name the Safe checker as the
published ones do."""

from __future__ import annotations

import json
import sys
import threading

import numpy as np
import pytest
import torch
from diffusekit_stable_diffusion import (
    SafeLatentGuidance,
    SafetyConfig,
    StableDiffusionPipelineSafe,
)
from diffusekit_stable_diffusion.safe import SAFETY_CONCEPT
from diffusekit_stable_diffusion.safety_checker import (
    SafeStableDiffusionSafetyChecker,
    StableDiffusionSafetyChecker,
)
from diffusekit_stable_diffusion.testing import NEVER, aim_concepts, tiny_clip_config
from diffusekit_stable_diffusion.text_to_image import StableDiffusionPipeline
from transformers import CLIPImageProcessor

from diffusekit import DiffusionPipeline
from diffusekit.errors import DiffusekitWarning

from ._pipelines import build, one_thread, seeded

STEPS = 3


def _sld_off():
    return pytest.warns(DiffusekitWarning, match="safety guidance is off")


_one_thread = pytest.fixture(autouse=True)(one_thread)


@pytest.fixture(scope="module")
def pipe() -> StableDiffusionPipelineSafe:
    return build(StableDiffusionPipelineSafe)


def _call(pipe, **kwargs):
    options = {"prompt": "hello", "num_inference_steps": STEPS, "output_type": "np"}
    return pipe(**{**options, "generator": seeded(0), "sld_warmup_steps": 1, **kwargs})


# ----------------------------------------------------------------- guidance, by itself


def _paper_sld(eps_u, eps_p, eps_s, momentum, *, s_g, s_s, warmup, step, lam, s_m, beta):
    """Eq. 3 and 5-7 of Schramowski et al. 2023, element by element in Python floats."""
    guided, new_momentum = [], []
    for u, p, s, nu in zip(eps_u, eps_p, eps_s, momentum):
        mu = 0.0 if p - s >= lam else min(abs(p - s) * s_s, 1.0)
        gamma = mu * (s - u) + s_m * nu
        new_momentum.append(beta * nu + (1 - beta) * gamma)
        term = gamma if step >= warmup else 0.0
        guided.append(u + s_g * (p - u - term))
    return guided, new_momentum


def test_guidance_follows_the_paper_over_steps():
    settings = {"sld_guidance_scale": 40.0, "sld_threshold": 0.01, "sld_momentum_scale": 0.3}
    guidance = SafeLatentGuidance(
        5.0, torch.zeros(1), sld_warmup_steps=1, sld_mom_beta=0.4, **settings
    )
    generator = seeded(3)
    momentum = [0.0] * 6
    for step in range(3):
        eps = torch.randn(3, 6, generator=generator, dtype=torch.float64) * 0.05
        guidance.step_index = step
        found = guidance.combine(eps)
        expected, momentum = _paper_sld(
            *eps.tolist(),
            momentum,
            s_g=5.0,
            s_s=40.0,
            warmup=1,
            step=step,
            lam=0.01,
            s_m=0.3,
            beta=0.4,
        )
        assert found[0].tolist() == pytest.approx(expected, abs=1e-12)
        assert guidance.momentum[0].tolist() == pytest.approx(momentum, abs=1e-12)
    assert any(value != 0.0 for value in momentum)


def test_guidance_batches_three_ways_only_with_safety_on():
    latents = torch.ones(2, 4, 1, 1)
    concept = torch.full((2, 3, 5), 2.0)
    negative, positive = torch.zeros(2, 3, 5), torch.ones(2, 3, 5)
    on = SafeLatentGuidance(7.5, concept)
    assert on.model_input(latents).shape[0] == 6
    assert on.conditioning(negative, positive)[4:].eq(2.0).all()
    off = SafeLatentGuidance(7.5, sld_guidance_scale=1.0)
    assert off.model_input(latents).shape[0] == 4 and not off.safety_enabled
    unguided = SafeLatentGuidance(1.0, concept)
    assert unguided.model_input(latents).shape[0] == 2 and not unguided.safety_enabled
    assert unguided.conditioning(negative, positive) is positive


# ---------------------------------------------------------------------- the pipeline


def test_safety_guidance_off_is_plain_stable_diffusion(pipe):
    plain = StableDiffusionPipeline(**pipe.components, requires_safety_checker=False)
    plain.set_progress_bar_config(disable=True)
    for options in ({"sld_guidance_scale": 0.0}, {"guidance_scale": 1.0}):
        with _sld_off():
            safe = _call(pipe, **options)
        guidance = options.get("guidance_scale", 7.5)
        expected = plain(
            "hello",
            num_inference_steps=STEPS,
            guidance_scale=guidance,
            generator=seeded(0),
            output_type="np",
        ).images
        assert np.array_equal(safe.images, expected)
        assert safe.applied_safety_concept is None


def test_safety_guidance_changes_images_after_warm_up(pipe):
    with _sld_off():
        off = _call(pipe, sld_guidance_scale=0.0).images
    on = _call(pipe)
    assert np.abs(on.images - off).max() > 1e-3
    assert on.applied_safety_concept == SAFETY_CONCEPT
    never_applied = _call(pipe, sld_warmup_steps=STEPS).images
    assert np.allclose(never_applied, off, atol=1e-5)
    no_momentum = _call(pipe, sld_momentum_scale=0.0).images
    assert np.abs(no_momentum - on.images).max() > 1e-4


def test_safety_concept_is_settable_per_pipeline():
    pipe = build(StableDiffusionPipelineSafe)
    default = _call(pipe).images
    pipe.safety_concept = "abc"
    other = _call(pipe)
    assert other.applied_safety_concept == "abc"
    assert np.abs(other.images - default).max() > 1e-4


def test_momentum_is_per_call(pipe):
    first = _call(pipe).images
    assert np.array_equal(_call(pipe).images, first)
    assert not [v for v in vars(pipe).values() if isinstance(v, (SafeLatentGuidance, torch.Tensor))]


def test_concurrent_calls_match_sequential_ones(pipe):
    settings = [{}, {**SafetyConfig.STRONG, "sld_warmup_steps": 0}]
    expected = [_call(pipe, **options).images for options in settings]
    found: dict[int, np.ndarray] = {}

    def run(index: int) -> None:
        torch.set_num_threads(1)
        found[index] = _call(pipe, **settings[index % 2]).images

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so races show
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    for index in range(4):
        assert np.array_equal(found[index], expected[index % 2])


def test_batches_and_tuple_output(pipe):
    images, flags, concept, unsafe = _call(
        pipe,
        prompt=["hello", "abc"],
        num_images_per_prompt=2,
        generator=[seeded(i) for i in range(4)],
        return_dict=False,
    )
    assert images.shape == (4, 16, 16, 3)
    assert flags is None and unsafe is None and concept == SAFETY_CONCEPT
    alone = _call(pipe, prompt="abc", generator=seeded(3)).images
    assert np.allclose(images[3], alone[0], atol=1e-5)


# ------------------------------------------------------------------- safety checking


def _with_checker(cls: type, flagged: list[int]) -> StableDiffusionPipelineSafe:
    """A Safe pipeline whose checker flags exactly the images at `flagged` of `_pair`."""
    pipe = build(StableDiffusionPipelineSafe)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    torch.manual_seed(0)
    checker = cls(tiny_clip_config()).eval()
    generated = _pair(pipe)
    clip_input = processor(pipe.numpy_to_pil(generated.images), return_tensors="pt").pixel_values
    aim_concepts(checker, clip_input, flagged)
    pipe = StableDiffusionPipelineSafe(
        **{**pipe.components, "safety_checker": checker, "feature_extractor": processor}
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _pair(pipe, **kwargs):
    return _call(pipe, prompt=["hello", "abc"], **kwargs)


@pytest.mark.parametrize(
    "checker", [SafeStableDiffusionSafetyChecker, StableDiffusionSafetyChecker]
)
def test_flagged_images_are_black_and_kept_as_unsafe(pipe, checker):
    expected = _pair(pipe).images
    flagging = _with_checker(checker, flagged=[1])
    out = _pair(flagging)
    assert out.nsfw_content_detected == [False, True]
    assert np.array_equal(out.images[0], expected[0]) and not out.images[1].any()
    assert out.unsafe_images.shape == expected.shape
    assert not out.unsafe_images[0].any()
    assert np.array_equal(out.unsafe_images[1], expected[1])
    pil = _pair(flagging, output_type="pil")
    assert len(pil.unsafe_images) == 2 and pil.unsafe_images[1].getextrema() != ((0, 0),) * 3


def test_checker_that_flags_nothing(pipe):
    checking = _with_checker(SafeStableDiffusionSafetyChecker, flagged=[])
    with torch.no_grad():
        checking.safety_checker.concept_embeds_weights.fill_(NEVER)
    out = _pair(checking)
    assert out.nsfw_content_detected == [False, False]
    assert np.array_equal(out.images, _pair(pipe).images)
    assert not out.unsafe_images.any()


def test_latent_output_skips_decoding_and_checking(pipe):
    out = _call(pipe, output_type="latent")
    assert out.images.shape == (1, 4, 8, 8)
    assert out.nsfw_content_detected is None and out.unsafe_images is None


# ---------------------------------------------------------------- checks and callbacks


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ip_adapter_image": object()}, ValueError, "ip_adapter_image"),
        ({"callback_steps": 0}, ValueError, "callback_steps"),
        ({"height": 20}, ValueError, "height: expected a multiple of 8"),
        ({"prompt": 3}, TypeError, "prompt"),
        ({"generator": [seeded(0)] * 3}, ValueError, "generator"),
    ],
)
def test_bad_inputs(pipe, kwargs, error, match):
    with pytest.raises(error, match=match):
        _call(pipe, **kwargs)


def test_callbacks(pipe):
    legacy, kernel_steps = [], []
    _call(
        pipe,
        callback=lambda step, t, latents: legacy.append(step),
        callback_on_step_end=lambda pipe, i, t, tensors: kernel_steps.append(i) or {},
        callback_on_step_end_tensor_inputs=["latents", "prompt_embeds"],
    )
    assert legacy == kernel_steps == list(range(STEPS))


def test_callback_sees_three_way_conditioning(pipe):
    shapes = []

    def callback(pipe, i, t, tensors):
        shapes.append(tuple(tensors["prompt_embeds"].shape))
        return {}

    _call(pipe, callback_on_step_end=callback, callback_on_step_end_tensor_inputs=["prompt_embeds"])
    assert shapes[0][0] == 3


# -------------------------------------------------------------------------- loading


def test_loads_checkpoints_naming_the_published_libraries(tmp_path):
    pipe = _with_checker(SafeStableDiffusionSafetyChecker, flagged=[1])
    pipe.save_pretrained(tmp_path)
    index_file = tmp_path / "model_index.json"
    index = json.loads(index_file.read_text())
    assert index["_class_name"] == "StableDiffusionPipelineSafe"
    index["safety_checker"] = ["stable_diffusion_safe", "SafeStableDiffusionSafetyChecker"]
    index_file.write_text(json.dumps(index))
    loaded = DiffusionPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded) is StableDiffusionPipelineSafe
    assert type(loaded.safety_checker) is SafeStableDiffusionSafetyChecker
    expected = _pair(pipe)
    found = _pair(loaded)
    assert found.nsfw_content_detected == expected.nsfw_content_detected == [False, True]
    assert np.array_equal(found.unsafe_images, expected.unsafe_images)
