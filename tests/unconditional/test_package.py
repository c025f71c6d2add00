"""The distribution's declarations: registry names, tasks, the library alias, the default model."""

from __future__ import annotations

import json
from pathlib import Path

import diffusekit_unconditional
import pytest

from diffusekit import auto, registry

PIPELINES = {
    "DDPMPipeline": "ddpm.unconditional",
    "DDIMPipeline": "ddim.unconditional",
    "PNDMPipeline": "pndm.unconditional",
    "ScoreSdeVePipeline": "score-sde-ve.unconditional",
    "ScoreSdeVpPipeline": "score-sde-vp.unconditional",
    "KarrasVePipeline": "karras-ve.unconditional",
    "LDMPipeline": "ldm.unconditional",
    "DanceDiffusionPipeline": "dance-diffusion.audio",
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_each_pipeline_resolves_and_serves_its_task(name):
    cls = registry.resolve("diffusers", name)
    assert cls is getattr(diffusekit_unconditional, name)
    family, _, task = PIPELINES[name].rpartition(".")
    assert auto.pipeline_class_for(family, task) is cls
    assert family in auto.families_of(name)


def test_public_names():
    assert sorted(diffusekit_unconditional.__all__) == sorted([*PIPELINES, "default_model_path"])


def test_reference_deprecated_library_names_the_diffusers_classes(tmp_path):
    from diffusekit_schedulers import KarrasVeScheduler

    assert registry.resolve("deprecated", "KarrasVeScheduler") is KarrasVeScheduler
    with pytest.raises(LookupError):
        registry.resolve("deprecated", "NoSuchScheduler")


def _fake_package(tmp_path: Path, monkeypatch, with_index: bool) -> Path:
    package = tmp_path / "pkg"
    (package / "default_model").mkdir(parents=True)
    if with_index:
        index = {"_class_name": "DDIMPipeline", "unet": ["diffusers", "UNet2DModel"]}
        (package / "default_model" / "model_index.json").write_text(json.dumps(index))
    monkeypatch.setattr(diffusekit_unconditional.resources, "files", lambda name: package)
    return package / "default_model"


def test_default_model_path_finds_the_shipped_folder(tmp_path, monkeypatch):
    folder = _fake_package(tmp_path, monkeypatch, with_index=True)
    assert diffusekit_unconditional.default_model_path() == folder


def test_default_model_path_says_when_the_model_is_missing(tmp_path, monkeypatch):
    _fake_package(tmp_path, monkeypatch, with_index=False)
    with pytest.raises(FileNotFoundError, match=r"model_index\.json: the default model"):
        diffusekit_unconditional.default_model_path()


def test_the_installed_default_model_when_present():
    folder = Path(diffusekit_unconditional.__file__).parent / "default_model"
    if not (folder / "model_index.json").is_file():
        with pytest.raises(FileNotFoundError):
            diffusekit_unconditional.default_model_path()
        return
    path = diffusekit_unconditional.default_model_path()
    assert json.loads((path / "model_index.json").read_text())["_class_name"] == "DDIMPipeline"
