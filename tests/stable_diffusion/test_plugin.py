"""The plugin as installed: entry points, load options hook, output classes, public names."""

from __future__ import annotations

import dataclasses

import diffusekit_stable_diffusion
import pytest
import torch
from diffusekit_stable_diffusion import _load_options
from diffusekit_stable_diffusion.outputs import (
    StableDiffusionPipelineOutput,
    StableDiffusionSafePipelineOutput,
)
from diffusekit_stable_diffusion.safety_checker import (
    SafeStableDiffusionSafetyChecker,
    StableDiffusionSafetyChecker,
)

from diffusekit import registry
from diffusekit.testing import assert_plugin_ok


def test_entry_points_resolve_to_the_checkers():
    assert_plugin_ok("diffusekit-stable-diffusion")
    found = registry.resolve("stable_diffusion", "StableDiffusionSafetyChecker")
    safe = registry.resolve("stable_diffusion_safe", "SafeStableDiffusionSafetyChecker")
    assert found is StableDiffusionSafetyChecker
    assert safe is SafeStableDiffusionSafetyChecker


@pytest.mark.parametrize("library", ["stable_diffusion", "stable_diffusion_safe"])
def test_load_options_for_the_checker_libraries(library):
    options = {"dtype": torch.float16, "variant": "fp16", "low_cpu_mem_usage": True}
    kwargs = _load_options.diffusekit_load_options(
        library=library, component_class=StableDiffusionSafetyChecker, options=options
    )
    assert kwargs["variant"] == "fp16"
    assert kwargs["use_safetensors"] is True
    assert torch.float16 in kwargs.values()


def test_load_options_leave_other_libraries_alone():
    answer = _load_options.diffusekit_load_options(
        library="transformers", component_class=StableDiffusionSafetyChecker, options={}
    )
    assert answer is None


def test_pipeline_output_fields_and_tuple_view():
    images = [object(), object()]
    out = StableDiffusionPipelineOutput(images=images, nsfw_content_detected=[False, True])
    assert [field.name for field in dataclasses.fields(out)] == ["images", "nsfw_content_detected"]
    assert out[0] is images and out["nsfw_content_detected"] == [False, True]
    assert len(StableDiffusionPipelineOutput(images, None)) == 1


def test_safe_pipeline_output_fields():
    names = [field.name for field in dataclasses.fields(StableDiffusionSafePipelineOutput)]
    expected = ["images", "nsfw_content_detected", "unsafe_images", "applied_safety_concept"]
    assert names == expected
    out = StableDiffusionSafePipelineOutput([1], [True], [2], None)
    assert out.to_tuple() == ([1], [True], [2])


def test_public_names_resolve():
    for name in diffusekit_stable_diffusion.__all__:
        assert getattr(diffusekit_stable_diffusion, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = diffusekit_stable_diffusion.Nope
