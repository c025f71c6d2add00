"""The three Stable Diffusion tasks through AutoPipeline.from_pipe (shared storage), and a
saved tiny checkpoint loading back through the entry points."""

from __future__ import annotations

import json

import numpy as np
import pytest
from diffusekit_stable_diffusion import tiny
from diffusekit_stable_diffusion.image_to_image import StableDiffusionImg2ImgPipeline
from diffusekit_stable_diffusion.inpainting import StableDiffusionInpaintPipeline
from diffusekit_stable_diffusion.text_to_image import StableDiffusionPipeline

from diffusekit import (
    AutoPipelineForImage2Image,
    AutoPipelineForInpainting,
    AutoPipelineForText2Image,
    DiffusionPipeline,
)

from . import _pipelines as h

one_thread = pytest.fixture(scope="module", autouse=True)(h.one_thread)


def _storage(pipe) -> set[int]:
    return {
        tensor.data_ptr()
        for module in pipe.components.values()
        if hasattr(module, "state_dict")
        for tensor in module.state_dict().values()
    }


def test_from_pipe_across_the_three_tasks_shares_every_component():
    text2image = h.build(StableDiffusionPipeline)
    storage = _storage(text2image)

    img2img = AutoPipelineForImage2Image.from_pipe(text2image)
    inpaint = AutoPipelineForInpainting.from_pipe(img2img)
    back = AutoPipelineForText2Image.from_pipe(inpaint)

    assert type(img2img) is StableDiffusionImg2ImgPipeline
    assert type(inpaint) is StableDiffusionInpaintPipeline
    assert type(back) is StableDiffusionPipeline
    for pipe in (img2img, inpaint, back):
        for name, component in text2image.components.items():
            assert pipe.components[name] is component, name
        assert _storage(pipe) == storage
        assert pipe.config.requires_safety_checker is False
    images = inpaint(
        "hello", image=h.image(), mask_image=h.mask(), num_inference_steps=2, output_type="np"
    ).images
    assert images.shape == (1, 16, 16, 3)


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("sd1", StableDiffusionPipeline), ("inpainting", StableDiffusionInpaintPipeline)],
)
def test_saved_checkpoint_loads_through_the_entry_points(tmp_path, kind, cls):
    folder = tiny.save_tiny_checkpoint(tmp_path / kind, kind)
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == cls.__name__
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert index["safety_checker"] == [None, None]

    loaded = DiffusionPipeline.from_pretrained(folder)
    built = cls(**tiny.components(kind))
    for pipe in (loaded, built):
        pipe.set_progress_bar_config(disable=True)
    assert type(loaded) is cls
    extra = {"image": h.image(), "mask_image": h.mask()} if kind == "inpainting" else {}
    outputs = [
        pipe("hello", num_inference_steps=2, generator=h.seeded(0), output_type="np", **extra)
        for pipe in (loaded, built)
    ]
    np.testing.assert_allclose(outputs[0].images, outputs[1].images, atol=1e-6)


def test_auto_pipelines_load_a_checkpoint_for_each_task(tmp_path):
    folder = tiny.save_tiny_checkpoint(tmp_path / "sd1")
    assert type(AutoPipelineForText2Image.from_pretrained(folder)) is StableDiffusionPipeline
    loaded = AutoPipelineForImage2Image.from_pretrained(folder)
    assert type(loaded) is StableDiffusionImg2ImgPipeline
    assert type(AutoPipelineForInpainting.from_pretrained(folder)) is StableDiffusionInpaintPipeline
