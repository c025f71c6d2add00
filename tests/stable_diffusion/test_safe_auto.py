"""AutoPipeline and Safe Stable Diffusion checkpoints: refused, as the reference refuses them.

The reference's text-to-image, image-to-image and inpainting mappings have no Safe Latent
Diffusion entry, so its AutoPipelines raise a ValueError for a ``StableDiffusionPipelineSafe``
checkpoint or pipeline (tests/parity/stable_diffusion/test_safe_auto.py checks that). This
plugin declares no ``diffusekit.tasks`` entry for the Safe class, so ours refuse too, before
any weights load; `DiffusionPipeline.from_pretrained` is the way to load such a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from diffusekit_stable_diffusion import StableDiffusionPipelineSafe

from diffusekit import (
    AutoPipelineForImage2Image,
    AutoPipelineForInpainting,
    AutoPipelineForText2Image,
    DiffusionPipeline,
    auto,
)

from ._pipelines import build, one_thread

AUTOS = [AutoPipelineForText2Image, AutoPipelineForImage2Image, AutoPipelineForInpainting]

_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


@pytest.fixture(scope="module")
def safe_checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("safe-auto")
    build(StableDiffusionPipelineSafe).save_pretrained(folder)
    assert json.loads((folder / "model_index.json").read_text())["_class_name"] == (
        "StableDiffusionPipelineSafe"
    )
    return folder


def test_no_task_entry_names_the_safe_pipeline():
    assert auto.families_of("StableDiffusionPipelineSafe") == []
    assert "text2image" in auto.tasks()["stable-diffusion"]


@pytest.mark.parametrize("auto_cls", AUTOS, ids=lambda c: c.task)
def test_auto_from_pretrained_refuses_a_safe_checkpoint_before_loading(
    safe_checkpoint, auto_cls, monkeypatch
):
    def no_load(*args, **kwargs):
        raise AssertionError("weights were loaded")

    monkeypatch.setattr(DiffusionPipeline, "from_pretrained", classmethod(no_load))
    with pytest.raises(ValueError, match=f"task '{auto_cls.task}' for StableDiffusionPipelineSafe"):
        auto_cls.from_pretrained(safe_checkpoint)


@pytest.mark.parametrize("auto_cls", AUTOS, ids=lambda c: c.task)
def test_auto_from_pipe_refuses_a_safe_pipeline(auto_cls):
    with pytest.raises(ValueError, match="StableDiffusionPipelineSafe"):
        auto_cls.from_pipe(build(StableDiffusionPipelineSafe))


def test_diffusion_pipeline_loads_the_safe_checkpoint(safe_checkpoint):
    pipe = DiffusionPipeline.from_pretrained(safe_checkpoint)
    assert type(pipe) is StableDiffusionPipelineSafe
