"""StableDiffusionPipeline (text-to-image) and `encode_prompt` on tiny components."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from diffusekit_stable_diffusion.outputs import StableDiffusionPipelineOutput
from diffusekit_stable_diffusion.testing import NEVER, tiny_clip_config
from diffusekit_stable_diffusion.text_to_image import StableDiffusionPipeline

from diffusekit.errors import DiffusekitWarning

from . import _pipelines as h

one_thread = pytest.fixture(scope="module", autouse=True)(h.one_thread)


@pytest.fixture(scope="module")
def pipe():
    return h.build(StableDiffusionPipeline)


def _run(pipe, prompt="hello", **kwargs):
    kwargs.setdefault("generator", h.seeded(0))
    kwargs.setdefault("num_inference_steps", h.STEPS)
    return pipe(prompt, **kwargs)


# --------------------------------------------------------------------------- output types


def test_output_types(pipe):
    pil = _run(pipe, output_type="pil")
    array = _run(pipe, output_type="np").images
    tensor = _run(pipe, output_type="pt").images
    latents = _run(pipe, output_type="latent").images

    assert isinstance(pil, StableDiffusionPipelineOutput)
    assert pil.nsfw_content_detected is None
    assert [image.size for image in pil.images] == [(16, 16)]
    assert all(isinstance(image, PIL.Image.Image) for image in pil.images)
    assert array.shape == (1, 16, 16, 3) and array.dtype == np.float32
    assert array.min() >= 0.0 and array.max() <= 1.0
    assert tensor.shape == (1, 3, 16, 16)
    np.testing.assert_allclose(tensor.permute(0, 2, 3, 1).numpy(), array, atol=1e-6)
    assert latents.shape == (1, 4, 8, 8)
    np.testing.assert_array_equal(
        np.asarray(pil.images[0]), (array[0] * 255).round().astype(np.uint8)
    )


def test_return_dict_false_gives_images_and_flags(pipe):
    images, flags = _run(pipe, output_type="np", return_dict=False)
    assert images.shape == (1, 16, 16, 3)
    assert flags is None


def test_default_size_follows_the_unet_and_explicit_size_is_used(pipe):
    assert _run(pipe, output_type="latent").images.shape[-2:] == (8, 8)
    assert _run(pipe, output_type="np", height=24, width=16).images.shape == (1, 24, 16, 3)


# --------------------------------------------------------------------- batches and seeds


def test_same_seed_same_image_and_seeds_matter(pipe):
    first = _run(pipe, output_type="np").images
    again = _run(pipe, output_type="np").images
    other = _run(pipe, output_type="np", generator=h.seeded(1)).images
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_num_images_per_prompt_and_generator_lists(pipe):
    batch = _run(pipe, ["hello", "cab"], num_images_per_prompt=2, output_type="pil")
    assert len(batch.images) == 4

    generators = [h.seeded(seed) for seed in range(4)]
    batch = _run(
        pipe, ["hello", "cab"], num_images_per_prompt=2, generator=generators, output_type="np"
    )
    for index, (prompt, seed) in enumerate([("hello", 0), ("hello", 1), ("cab", 2), ("cab", 3)]):
        alone = _run(pipe, prompt, generator=h.seeded(seed), output_type="np").images[0]
        np.testing.assert_allclose(batch.images[index], alone, atol=1e-4)


def test_given_latents_replace_the_noise(pipe):
    noise = torch.randn(1, 4, 8, 8, generator=h.seeded(0))
    from_latents = _run(pipe, latents=noise, generator=None, output_type="np").images
    from_seed = _run(pipe, generator=h.seeded(0), output_type="np").images
    np.testing.assert_allclose(from_latents, from_seed, atol=1e-6)
    with pytest.raises(ValueError, match=r"latents: expected shape \(1, 4, 8, 8\)"):
        _run(pipe, latents=torch.zeros(1, 4, 4, 4))


# --------------------------------------------------------------------------- callbacks


def test_callbacks_see_the_reference_names_and_replace_latents(pipe):
    seen = []
    fixed = torch.full((1, 4, 8, 8), 0.25)

    def callback(p, step, t, tensors):
        seen.append((step, sorted(tensors), tensors["prompt_embeds"].shape))
        assert p.do_classifier_free_guidance and p.guidance_scale == 7.5
        assert p.num_timesteps == h.STEPS
        return {"latents": fixed} if step == h.STEPS - 1 else {}

    out = _run(
        pipe,
        output_type="latent",
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["latents", "prompt_embeds", "negative_prompt_embeds"],
    )
    names = ["latents", "negative_prompt_embeds", "prompt_embeds"]
    assert seen == [(0, names, (2, 77, 32)), (1, names, (2, 77, 32))]
    torch.testing.assert_close(out.images, fixed)


def test_interruption_stops_the_loop(pipe):
    steps = []

    def stop(p, step, t, tensors):
        steps.append(step)
        p._interrupt = True
        return {}

    _run(pipe, num_inference_steps=4, callback_on_step_end=stop, output_type="latent")
    assert steps == [0]
    assert pipe.interrupt


def test_without_guidance_no_negative_prompt_is_encoded(pipe):
    seen = {}

    def callback(p, step, t, tensors):
        seen.update(tensors, cfg=p.do_classifier_free_guidance)
        return {}

    _run(
        pipe,
        guidance_scale=1.0,
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["prompt_embeds", "negative_prompt_embeds"],
        output_type="latent",
    )
    assert seen["cfg"] is False
    assert seen["negative_prompt_embeds"] is None
    assert seen["prompt_embeds"].shape == (1, 77, 32)


def test_cross_attention_kwargs_reach_the_unet(pipe, monkeypatch):
    received = []
    forward = pipe.unet.forward

    def spy(*args, **kwargs):
        received.append(kwargs["cross_attention_kwargs"])
        return forward(*args, **kwargs)

    monkeypatch.setattr(pipe.unet, "forward", spy)
    options = {"scale": 0.5}
    with_scale = _run(pipe, cross_attention_kwargs=options, output_type="np").images
    monkeypatch.undo()
    assert received == [options] * h.STEPS
    np.testing.assert_array_equal(with_scale, _run(pipe, output_type="np").images)


# ----------------------------------------------------------------------------- prompts


def test_encode_prompt_alone(pipe):
    embeds, negative = pipe.encode_prompt("hello", "cpu", 2, True, negative_prompt="cab")
    assert embeds.shape == negative.shape == (2, 77, 32)
    torch.testing.assert_close(embeds[0], embeds[1])
    cab, none = pipe.encode_prompt("cab", "cpu", 1, False)
    assert none is None
    torch.testing.assert_close(negative[:1], cab)
    empty, _ = pipe.encode_prompt("", "cpu", 1, False)
    _, default_negative = pipe.encode_prompt("hello", "cpu", 1, True)
    torch.testing.assert_close(default_negative, empty)


def test_clip_skip_uses_an_earlier_layer(pipe):
    skipped, _ = pipe.encode_prompt("hello", "cpu", 1, False, clip_skip=1)
    last, _ = pipe.encode_prompt("hello", "cpu", 1, False)
    ids = pipe.tokenizer("hello", padding="max_length", max_length=77, return_tensors="pt")
    with torch.no_grad():
        hidden = pipe.text_encoder(ids.input_ids, output_hidden_states=True).hidden_states
        expected = pipe.text_encoder.final_layer_norm(hidden[-2])
    torch.testing.assert_close(skipped, expected)
    assert (skipped - last).abs().max() > 1e-3


def test_prompt_embeds_give_the_same_image_as_the_prompt(pipe):
    embeds, negative = pipe.encode_prompt("hello", "cpu", 1, True)
    from_embeds = _run(
        pipe, None, prompt_embeds=embeds, negative_prompt_embeds=negative, output_type="np"
    )
    np.testing.assert_allclose(from_embeds.images, _run(pipe, output_type="np").images, atol=1e-6)


def test_long_prompts_are_truncated_with_a_warning_showing_the_dropped_text(pipe):
    kept = " ".join(["a"] * 75)
    with pytest.warns(DiffusekitWarning, match=r"at most 77 tokens.*dropped: \['hello cab'\]"):
        long, _ = pipe.encode_prompt(kept + " hello cab", "cpu", 1, False)
    short, _ = pipe.encode_prompt(kept, "cpu", 1, False)
    torch.testing.assert_close(long, short)


# ------------------------------------------------------------------------ safety checker


def _with_checker(pipe, threshold):
    from diffusekit_stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPImageProcessor

    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(tiny_clip_config()).eval()
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(threshold)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    parts = {**pipe.components, "safety_checker": checker, "feature_extractor": processor}
    checked = StableDiffusionPipeline(**parts, requires_safety_checker=True)
    checked.set_progress_bar_config(disable=True)
    return checked


def test_safety_checker_flags_and_blacks_out(pipe):
    plain = _run(pipe, ["hello", "cab"], output_type="np").images

    passing = _run(_with_checker(pipe, NEVER), ["hello", "cab"], output_type="np")
    flagged = _run(_with_checker(pipe, -NEVER), ["hello", "cab"], output_type="np")

    assert passing.nsfw_content_detected == [False, False]
    np.testing.assert_array_equal(passing.images, plain)
    assert flagged.nsfw_content_detected == [True, True]
    assert not flagged.images.any()
    assert _run(_with_checker(pipe, -NEVER), output_type="latent").nsfw_content_detected is None


def test_concurrent_calls_match_sequential_ones(pipe):
    from concurrent.futures import ThreadPoolExecutor

    def run(seed):
        return _run(pipe, generator=h.seeded(seed), num_inference_steps=3, output_type="np").images

    sequential = [run(seed) for seed in (0, 1)]
    with ThreadPoolExecutor(2) as pool:
        concurrent = list(pool.map(run, (0, 1)))
    for alone, together in zip(sequential, concurrent):
        np.testing.assert_allclose(together, alone, atol=1e-6)
