"""The reference's AutoPipelines refuse Safe Stable Diffusion, and so do ours.

A checkpoint the reference's `StableDiffusionPipelineSafe` writes names that class in
`model_index.json`; no text-to-image, image-to-image or inpainting mapping of the reference
lists it, so `AutoPipelineFor*.from_pretrained` and `.from_pipe` raise a ValueError. Ours
raise a ValueError as well (the Safe pipeline has no ``diffusekit.tasks`` entry), for the same
checkpoint and for a pipeline loaded from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

diffusers = pytest.importorskip("diffusers")

import diffusekit  # noqa: E402

from .test_safe import _reference_pipeline  # noqa: E402

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("one_torch_thread")]

TASKS = ["AutoPipelineForText2Image", "AutoPipelineForImage2Image", "AutoPipelineForInpainting"]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[object, Path, object]:
    """The reference's Safe pipeline, the checkpoint it wrote, and ours loaded from it."""
    folder = tmp_path_factory.mktemp("safe-auto")
    reference = _reference_pipeline(folder)
    reference.save_pretrained(folder / "checkpoint")
    ours = diffusekit.DiffusionPipeline.from_pretrained(folder / "checkpoint")
    assert type(ours).__name__ == "StableDiffusionPipelineSafe"
    return reference, folder / "checkpoint", ours


@pytest.mark.parametrize("name", TASKS)
def test_both_refuse_the_checkpoint(written, name):
    _, checkpoint, _ = written
    with pytest.raises(ValueError, match="StableDiffusionPipelineSafe"):
        getattr(diffusers, name).from_pretrained(checkpoint)
    with pytest.raises(ValueError, match="StableDiffusionPipelineSafe"):
        getattr(diffusekit, name).from_pretrained(checkpoint)


@pytest.mark.parametrize("name", TASKS)
def test_both_refuse_the_pipeline(written, name):
    reference, _, ours = written
    with pytest.raises(ValueError, match="StableDiffusionPipelineSafe"):
        getattr(diffusers, name).from_pipe(reference)
    with pytest.raises(ValueError, match="StableDiffusionPipelineSafe"):
        getattr(diffusekit, name).from_pipe(ours)
