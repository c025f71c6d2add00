"""StableDiffusionImg2ImgPipeline and StableDiffusionInpaintPipeline on tiny components."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from diffusekit_stable_diffusion._latents import encode_images
from diffusekit_stable_diffusion.image_to_image import StableDiffusionImg2ImgPipeline
from diffusekit_stable_diffusion.inpainting import StableDiffusionInpaintPipeline

from . import _pipelines as h

one_thread = pytest.fixture(scope="module", autouse=True)(h.one_thread)


@pytest.fixture(scope="module")
def img2img():
    return h.build(StableDiffusionImg2ImgPipeline)


@pytest.fixture(scope="module")
def inpaint(img2img):
    """Inpainting with the ordinary 4-channel UNet (blending after each step)."""
    return StableDiffusionInpaintPipeline.from_pipe(img2img)


@pytest.fixture(scope="module")
def inpaint9():
    return h.build(StableDiffusionInpaintPipeline, "inpainting")


def _steps(pipe, **kwargs):
    """Run `pipe` and return the timesteps its loop went through."""
    seen = []

    def record(p, step, t, tensors):
        seen.append(int(t))
        return {}

    out = pipe("hello", callback_on_step_end=record, generator=h.seeded(0), **kwargs)
    return seen, out


# ------------------------------------------------------------------------ image-to-image


def test_strength_runs_the_last_steps_only(img2img):
    full, _ = _steps(img2img, image=h.image(), strength=1.0, num_inference_steps=4)
    half, out = _steps(img2img, image=h.image(), strength=0.5, num_inference_steps=4)
    assert len(full) == 4
    assert half == full[2:]
    assert img2img.num_timesteps == 2
    assert out.images[0].size == (16, 16)


def test_output_keeps_the_image_size(img2img):
    image = PIL.Image.new("RGB", (24, 16), (200, 30, 60))
    out = img2img("hello", image=image, num_inference_steps=2, output_type="np")
    assert out.images.shape == (1, 16, 24, 3)


def test_low_strength_stays_close_to_the_image(img2img):
    pixels = h.image()
    decoded = img2img.vae.decode(
        encode_images(img2img.vae, pixels * 2 - 1, h.seeded(0)) / img2img.vae.config.scaling_factor
    ).sample
    kept = (decoded / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).detach().numpy()
    near = img2img(
        "hello",
        image=pixels,
        strength=0.05,
        num_inference_steps=40,
        generator=h.seeded(0),
        output_type="np",
    ).images
    far = img2img(
        "hello",
        image=pixels,
        strength=1.0,
        num_inference_steps=2,
        generator=h.seeded(0),
        output_type="np",
    ).images
    assert np.abs(near - kept).mean() < np.abs(far - kept).mean()


def test_images_per_prompt_and_generator_lists(img2img):
    out = img2img(
        ["hello", "cab"],
        image=h.image(),
        num_images_per_prompt=2,
        generator=[h.seeded(seed) for seed in range(4)],
        num_inference_steps=2,
        output_type="np",
    )
    alone = img2img(
        "cab", image=h.image(), generator=h.seeded(3), num_inference_steps=2, output_type="np"
    )
    assert out.images.shape == (4, 16, 16, 3)
    np.testing.assert_allclose(out.images[3], alone.images[0], atol=1e-4)


def test_latents_are_accepted_as_the_image(img2img):
    latents = encode_images(img2img.vae, h.image() * 2 - 1, h.seeded(5))
    out = img2img("hello", image=latents, num_inference_steps=2, output_type="latent")
    assert out.images.shape == (1, 4, 8, 8)


# -------------------------------------------------------------------------- inpainting


def test_blending_keeps_the_unmasked_image_exactly(inpaint):
    """With a mask of zeros nothing is generated: the result is the image's own latents."""
    pixels = h.image(3)
    out = inpaint(
        "hello",
        image=pixels,
        mask_image=torch.zeros(1, 1, 16, 16),
        generator=h.seeded(0),
        num_inference_steps=2,
        output_type="latent",
    )
    expected = encode_images(inpaint.vae, pixels * 2 - 1, h.seeded(0))
    torch.testing.assert_close(out.images, expected)


def test_blending_keeps_only_the_region_outside_the_mask(inpaint):
    pixels = h.image(3)
    mask = h.mask()
    out = inpaint(
        "hello",
        image=pixels,
        mask_image=mask,
        generator=h.seeded(0),
        num_inference_steps=2,
        output_type="latent",
    )
    clean = encode_images(inpaint.vae, pixels * 2 - 1, h.seeded(0))
    outside = torch.nn.functional.interpolate(mask, size=(8, 8)) == 0
    outside = outside.expand_as(clean)
    torch.testing.assert_close(out.images[outside], clean[outside])
    assert (out.images[~outside] - clean[~outside]).abs().max() > 1e-2


def test_nine_channel_unet_sees_mask_and_masked_image(inpaint9):
    seen = {}

    def record(p, step, t, tensors):
        seen.update({name: tuple(tensor.shape) for name, tensor in tensors.items()})
        return {}

    out = inpaint9(
        ["hello", "cab"],
        image=h.image(),
        mask_image=h.mask(),
        num_inference_steps=2,
        generator=h.seeded(0),
        callback_on_step_end=record,
        callback_on_step_end_tensor_inputs=["latents", "mask", "masked_image_latents"],
    )
    assert len(out.images) == 2
    assert seen == {
        "latents": (2, 4, 8, 8),
        "mask": (4, 1, 8, 8),
        "masked_image_latents": (4, 4, 8, 8),
    }


def test_nine_channel_mask_matters(inpaint9):
    def run(mask):
        return inpaint9(
            "hello",
            image=h.image(),
            mask_image=mask,
            num_inference_steps=2,
            generator=h.seeded(0),
            output_type="np",
        ).images

    assert np.abs(run(h.mask()) - run(torch.zeros(1, 1, 16, 16))).max() > 1e-3


def test_strength_below_one_starts_from_the_noised_image(inpaint9):
    full, _ = _steps(inpaint9, image=h.image(), mask_image=h.mask(), num_inference_steps=4)
    part, _ = _steps(
        inpaint9, image=h.image(), mask_image=h.mask(), strength=0.5, num_inference_steps=4
    )
    assert part == full[2:]


def test_padding_mask_crop_pastes_into_the_original(inpaint):
    rng = np.random.default_rng(0)
    original = PIL.Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[2:8, 2:8] = 255
    out = inpaint(
        "hello",
        image=original,
        mask_image=PIL.Image.fromarray(mask),
        padding_mask_crop=2,
        num_inference_steps=2,
        generator=h.seeded(0),
    )
    result = np.asarray(out.images[0])
    assert out.images[0].size == (32, 32)
    np.testing.assert_array_equal(result[16:, 16:], np.asarray(original)[16:, 16:])
    assert np.abs(result[2:8, 2:8].astype(int) - np.asarray(original)[2:8, 2:8]).max() > 0
