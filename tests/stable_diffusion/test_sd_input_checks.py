"""Stable Diffusion pipelines reject bad arguments before running any model, naming them."""

from __future__ import annotations

import pytest
import torch
from diffusekit_stable_diffusion import tiny
from diffusekit_stable_diffusion.image_to_image import StableDiffusionImg2ImgPipeline
from diffusekit_stable_diffusion.inpainting import StableDiffusionInpaintPipeline
from diffusekit_stable_diffusion.text_to_image import StableDiffusionPipeline

from diffusekit.errors import DiffusekitWarning

from . import _pipelines as h


@pytest.fixture(scope="module")
def parts():
    return tiny.components()


@pytest.fixture(scope="module")
def text2image(parts):
    return StableDiffusionPipeline(**parts)


@pytest.fixture(scope="module")
def img2img(parts):
    return StableDiffusionImg2ImgPipeline(**parts)


@pytest.fixture(scope="module")
def inpaint(parts):
    return StableDiffusionInpaintPipeline(**parts)


@pytest.fixture(autouse=True)
def unet_never_runs(parts, monkeypatch):
    """Every check must fire before the first model call."""

    def fail(*args, **kwargs):
        raise AssertionError("a model ran before the arguments were checked")

    for name in ("unet", "vae", "text_encoder"):
        monkeypatch.setattr(parts[name], "forward", fail)


@pytest.mark.parametrize("size", [{"height": 20}, {"width": 36}])
def test_size_not_a_multiple_of_8(text2image, inpaint, size):
    name, value = next(iter(size.items()))
    for pipe, extra in ((text2image, {}), (inpaint, {"image": h.image(), "mask_image": h.mask()})):
        with pytest.raises(ValueError, match=rf"{name}: expected a multiple of 8, found {value}"):
            pipe("hello", **size, **extra)


@pytest.mark.parametrize("strength", [-0.1, 1.5])
def test_strength_outside_0_1(img2img, inpaint, strength):
    with pytest.raises(
        ValueError, match=rf"strength: expected a value in \[0, 1\], found {strength}"
    ):
        img2img("hello", image=h.image(), strength=strength)
    with pytest.raises(ValueError, match=r"strength: expected a value in \[0, 1\]"):
        inpaint("hello", image=h.image(), mask_image=h.mask(), strength=strength)


def test_strength_leaving_no_step(img2img):
    with pytest.raises(ValueError, match=r"strength: 0.1 x num_inference_steps 5 leaves no step"):
        img2img("hello", image=h.image(), strength=0.1, num_inference_steps=5)


def test_generator_list_of_the_wrong_length(text2image):
    generators = [h.seeded(0), h.seeded(1), h.seeded(2)]
    with pytest.raises(ValueError, match=r"generator: .*= 4\), found 3"):
        text2image(["a", "b"], num_images_per_prompt=2, generator=generators)


def test_prompt_and_prompt_embeds(text2image):
    embeds = torch.zeros(1, 77, 32)
    with pytest.raises(ValueError, match="prompt, prompt_embeds: pass one of them, found both"):
        text2image("hello", prompt_embeds=embeds)
    with pytest.raises(ValueError, match="prompt, prompt_embeds: pass one of them, found neither"):
        text2image()
    with pytest.raises(TypeError, match=r"prompt: expected a str or a list of str, found int"):
        text2image(3)


def test_negative_prompt_and_negative_embeds(text2image):
    with pytest.raises(ValueError, match=r"negative_prompt, negative_prompt_embeds: .*found both"):
        text2image("hello", negative_prompt="cab", negative_prompt_embeds=torch.zeros(1, 77, 32))
    with pytest.raises(
        ValueError, match=r"negative_prompt_embeds: expected the shape .*\(1, 77, 32\)"
    ):
        text2image(
            prompt_embeds=torch.zeros(1, 77, 32), negative_prompt_embeds=torch.zeros(2, 77, 32)
        )


def test_mask_and_image_of_different_sizes(inpaint):
    with pytest.raises(ValueError, match=r"mask_image: expected .* = \(16, 16\), found \(16, 24\)"):
        inpaint("hello", image=h.image(size=16), mask_image=torch.zeros(1, 1, 16, 24))


def test_missing_images(img2img, inpaint):
    with pytest.raises(ValueError, match="image: required, found None"):
        img2img("hello")
    with pytest.raises(ValueError, match="mask_image: required, found None"):
        inpaint("hello", image=h.image())


def test_mask_crop_needs_pil(inpaint):
    with pytest.raises(
        ValueError, match="image: padding_mask_crop needs a PIL image, found Tensor"
    ):
        inpaint("hello", image=h.image(), mask_image=h.mask(), padding_mask_crop=2)


def test_unknown_callback_tensor_names(text2image, inpaint):
    def callback(pipe, i, t, kwargs):
        return kwargs

    with pytest.raises(ValueError, match=r"callback_on_step_end_tensor_inputs: .*\['noise'\]"):
        text2image(
            "hello",
            callback_on_step_end=callback,
            callback_on_step_end_tensor_inputs=["latents", "noise"],
        )
    with pytest.raises(ValueError, match=r"\['latents', 'prompt_embeds', .*'mask', "):
        inpaint(
            "hello",
            image=h.image(),
            mask_image=h.mask(),
            callback_on_step_end=callback,
            callback_on_step_end_tensor_inputs=["mask_image"],
        )


def test_unet_with_unusable_channels(parts):
    pipe = StableDiffusionInpaintPipeline(**{**parts, "unet": tiny_unet(in_channels=5)})
    with pytest.raises(
        ValueError, match=r"unet: .* takes 9 .* ordinary one 4; found in_channels=5"
    ):
        pipe("hello", image=h.image(), mask_image=h.mask())


def tiny_unet(**overrides):
    from diffusekit_models import UNet2DConditionModel

    return UNet2DConditionModel(**{**tiny.UNET, **overrides})


def test_safety_checker_without_feature_extractor(parts):
    with pytest.raises(ValueError, match=r"feature_extractor: .*needs a feature_extractor"):
        StableDiffusionPipeline(**{**parts, "safety_checker": object()})


def test_missing_safety_checker_warns_unless_not_required(parts):
    with pytest.warns(DiffusekitWarning, match="safety_checker=None disables the safety checker"):
        StableDiffusionPipeline(**{**parts, "requires_safety_checker": True})


def test_outdated_scheduler_settings_are_corrected_on_a_copy(parts):
    outdated = parts["scheduler"].from_config(parts["scheduler"].config, steps_offset=0)
    with pytest.warns(
        DiffusekitWarning, match=r"expects \{'steps_offset': 1\}.*found \{'steps_offset': 0\}"
    ):
        pipe = StableDiffusionPipeline(**{**parts, "scheduler": outdated})
    assert pipe.scheduler.config.steps_offset == 1
    assert outdated.config.steps_offset == 0


def test_output_type_and_step_count(text2image, img2img):
    with pytest.raises(
        ValueError, match=r"output_type: expected one of \['pil', 'np', 'pt', 'latent'\]"
    ):
        text2image("hello", output_type="numpy")
    with pytest.raises(ValueError, match="num_inference_steps: expected at least 1, found 0"):
        img2img("hello", image=h.image(), num_inference_steps=0)
