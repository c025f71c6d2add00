"""The x4 upscaler on tiny random components: shapes and output types, input checks, what the
UNet is given each step (latents scaled for the scheduler beside the unscaled noised
low-resolution image, the noise level as class labels), callbacks, the fixed latent scale,
the watermarker, saving and loading, and the AutoPipeline task."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
import torch
from diffusekit_models import AutoencoderKL, UNet2DConditionModel
from diffusekit_schedulers.euler_discrete import EulerDiscreteScheduler
from diffusekit_stable_diffusion import StableDiffusionSafetyChecker, tiny, tiny_upscale
from diffusekit_stable_diffusion.testing import NEVER, tiny_clip_config
from diffusekit_stable_diffusion.upscale import (
    LATENT_SCALING_FACTOR,
    StableDiffusionUpscalePipeline,
)
from transformers import CLIPImageProcessor

from diffusekit import DiffusionPipeline, auto
from diffusekit.errors import DiffusekitWarning
from diffusekit.noise import randn_tensor

from ._pipelines import one_thread, seeded

STEPS = 2

_one_thread = pytest.fixture(autouse=True)(one_thread)


@pytest.fixture(scope="module")
def pipe() -> StableDiffusionUpscalePipeline:
    pipe = StableDiffusionUpscalePipeline(**tiny_upscale.components())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _image(seed: int = 1, batch: int = 1, size: int = 8) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=seeded(seed))


def _call(pipe, **kwargs):
    options = {"prompt": "hello", "image": _image(), "num_inference_steps": STEPS}
    return pipe(**{**options, "generator": seeded(0), **kwargs})


class Recorder:
    """Wraps a UNet's forward to record what each call receives."""

    def __init__(self, unet: torch.nn.Module) -> None:
        self.unet, self.calls = unet, []
        self.forward = unet.forward

    def __enter__(self) -> Recorder:
        def forward(sample, timestep, *args, **kwargs):
            self.calls.append({"sample": sample.clone(), "t": timestep, **kwargs})
            return self.forward(sample, timestep, *args, **kwargs)

        self.unet.forward = forward
        return self

    def __exit__(self, *exc) -> None:
        del self.unet.forward


# ---------------------------------------------------------------------------- outputs


def test_upscales_four_times_in_every_output_type(pipe):
    arrays = _call(pipe, output_type="np").images
    assert arrays.shape == (1, 32, 32, 3) and arrays.dtype == np.float32
    assert arrays.min() >= 0.0 and arrays.max() <= 1.0
    tensors = _call(pipe, output_type="pt").images
    assert torch.allclose(tensors.permute(0, 2, 3, 1), torch.from_numpy(arrays), atol=1e-6)
    pil = _call(pipe).images
    assert isinstance(pil[0], PIL.Image.Image) and pil[0].size == (32, 32)
    latents = _call(pipe, output_type="latent").images
    assert latents.shape == (1, 4, 8, 8)


def test_tuple_output_and_seeds(pipe):
    images, flags = _call(pipe, output_type="np", return_dict=False)
    assert flags is None
    again = _call(pipe, output_type="np").images
    assert np.array_equal(images, again)
    other = pipe(
        "hello", _image(), num_inference_steps=STEPS, generator=seeded(1), output_type="np"
    )
    assert not np.allclose(images, other.images)


def test_one_image_serves_every_prompt_and_image_per_prompt(pipe):
    out = _call(pipe, prompt=["hello", "abc"], num_images_per_prompt=2, output_type="np")
    assert out.images.shape == (4, 32, 32, 3)


def test_noise_level_changes_the_result(pipe):
    low = _call(pipe, noise_level=0, output_type="np").images
    high = _call(pipe, noise_level=300, output_type="np").images
    assert np.abs(low - high).max() > 1e-3


# ------------------------------------------------------------------- what the UNet sees


def test_unet_sees_scaled_latents_beside_the_unscaled_noised_image():
    components = tiny_upscale.components()
    scheduler = EulerDiscreteScheduler.from_config(components["scheduler"].config)
    pipe = StableDiffusionUpscalePipeline(**{**components, "scheduler": scheduler})
    pipe.set_progress_bar_config(disable=True)
    low_res = _image(3)
    generator = seeded(5)
    expected_image = pipe.low_res_scheduler.add_noise(
        low_res * 2 - 1,
        randn_tensor(low_res.shape, generator, "cpu", torch.float32),
        torch.tensor([42]),
    )
    latent_noise = randn_tensor((1, 4, 8, 8), generator, "cpu", torch.float32)
    steps = []

    def record(pipe, i, t, tensors):
        steps.append(tensors["latents"].clone())
        return {}

    with Recorder(pipe.unet) as recorder:
        pipe(
            "hello",
            low_res,
            num_inference_steps=STEPS,
            noise_level=42,
            generator=seeded(5),
            output_type="latent",
            callback_on_step_end=record,
        )
    assert len(recorder.calls) == STEPS
    run_scheduler = EulerDiscreteScheduler.from_config(scheduler.config)
    run_scheduler.set_timesteps(STEPS)
    inputs = [latent_noise * run_scheduler.init_noise_sigma, *steps[:-1]]
    for call, latents, t in zip(recorder.calls, inputs, run_scheduler.timesteps):
        sample = call["sample"]
        assert sample.shape == (2, 7, 8, 8)  # guidance: unconditional and conditional rows
        for row in sample:
            assert torch.allclose(row[4:], expected_image[0], atol=1e-6)
        scaled = latents / ((run_scheduler.sigmas[0] ** 2 + 1) ** 0.5)
        if t == run_scheduler.timesteps[0]:
            assert torch.allclose(sample[0, :4], scaled[0], atol=1e-5)
        assert torch.equal(call["class_labels"], torch.tensor([42, 42]))


# ----------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"noise_level": 351}, ValueError, r"noise_level: expected a value in \[0, .*=350\]"),
        ({"noise_level": -1}, ValueError, "noise_level"),
        ({"image": None}, ValueError, "image: required"),
        ({"image": "cat.png"}, TypeError, "image: expected a PIL image.*found str"),
        ({"prompt": ["a", "b"], "image": _image(batch=3)}, ValueError, "one image per prompt"),
        ({"callback_steps": 0}, ValueError, "callback_steps"),
        ({"callback_steps": None}, TypeError, "callback_steps"),
        ({"prompt": None}, ValueError, "prompt"),
    ],
)
def test_bad_inputs_are_named_before_any_model_runs(pipe, kwargs, error, match):
    with Recorder(pipe.unet) as recorder, pytest.raises(error, match=match):
        _call(pipe, **kwargs)
    assert recorder.calls == []


def test_unet_channels_must_fit_latents_and_image():
    components = tiny_upscale.components()
    components["unet"] = UNet2DConditionModel(**tiny.unet_config())
    pipe = StableDiffusionUpscalePipeline(**components)
    with pytest.raises(ValueError, match=r"unet: in_channels=4.*give 7"):
        _call(pipe)


# -------------------------------------------------------------------------- callbacks


def test_legacy_callback_every_callback_steps(pipe):
    seen = []
    _call(
        pipe,
        num_inference_steps=3,
        callback=lambda step, t, latents: seen.append((step, latents.shape)),
        callback_steps=2,
        output_type="latent",
    )
    assert seen == [(0, (1, 4, 8, 8)), (2, (1, 4, 8, 8))]


def test_callback_on_step_end_sees_the_image_and_noise_level(pipe):
    seen = {}

    def callback(pipe, i, t, tensors):
        seen.update(tensors)
        return {}

    _call(
        pipe,
        output_type="latent",
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["latents", "image", "class_labels"],
    )
    assert seen["image"].shape == (2, 3, 8, 8)
    assert seen["class_labels"].tolist() == [20, 20]


# ----------------------------------------------------- latent scale, watermark, saving


def test_latent_scale_is_fixed_whatever_the_vae_config_says(pipe):
    config = {**tiny_upscale.VAE, "scaling_factor": 0.18215}
    vae = AutoencoderKL(**config)
    vae.load_state_dict(pipe.vae.state_dict())
    components = {**pipe.components, "vae": vae, "max_noise_level": 350}
    with pytest.warns(DiffusekitWarning, match="vae: the x4 upscaler's latents are scaled"):
        other = StableDiffusionUpscalePipeline(**components)
    other.set_progress_bar_config(disable=True)
    expected = _call(pipe, output_type="np").images
    assert np.array_equal(_call(other, output_type="np").images, expected)
    assert LATENT_SCALING_FACTOR == 0.08333


def test_watermarker_marks_pil_output(pipe):
    class Stamp:
        def apply_watermark(self, images):
            return [image.rotate(90) for image in images]

    marked = StableDiffusionUpscalePipeline(**{**pipe.components, "watermarker": Stamp()})
    marked.set_progress_bar_config(disable=True)
    plain, stamped = _call(pipe).images[0], _call(marked).images[0]
    assert np.array_equal(np.asarray(stamped), np.asarray(plain.rotate(90)))
    assert np.array_equal(
        _call(marked, output_type="np").images, _call(pipe, output_type="np").images
    )


def test_saved_checkpoint_loads_with_its_components(tmp_path, pipe):
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionUpscalePipeline"
    assert index["low_res_scheduler"] == ["diffusers", "DDPMScheduler"]
    assert index["max_noise_level"] == 350
    assert index["watermarker"] == [None, None]
    loaded = DiffusionPipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded) is StableDiffusionUpscalePipeline
    assert loaded.config.max_noise_level == 350
    expected = _call(pipe, output_type="np").images
    assert np.array_equal(_call(loaded, output_type="np").images, expected)


def test_autopipeline_task():
    assert auto.pipeline_class_for("stable-diffusion-upscale", "super-resolution") is (
        StableDiffusionUpscalePipeline
    )
    assert "stable-diffusion-upscale" in auto.families_of("StableDiffusionUpscalePipeline")


@pytest.mark.parametrize("threshold", [NEVER, -NEVER])
def test_safety_checker_flags_and_blacks_out(pipe, threshold):
    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(tiny_clip_config()).eval()
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(threshold)
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    checked = StableDiffusionUpscalePipeline(
        **{**pipe.components, "safety_checker": checker, "feature_extractor": processor}
    )
    checked.set_progress_bar_config(disable=True)
    out = _call(checked, prompt=["hello", "abc"], image=_image(batch=2), output_type="np")
    flagged = threshold < 0
    assert out.nsfw_content_detected == [flagged, flagged]
    expected = _call(pipe, prompt=["hello", "abc"], image=_image(batch=2), output_type="np")
    if flagged:
        assert not out.images.any()
    else:
        assert np.array_equal(out.images, expected.images)
