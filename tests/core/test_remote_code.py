"""Code shipped in a checkpoint, or passed as custom_pipeline=, runs only with
trust_remote_code=True; without it nothing is imported and the error says what would run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from diffusekit.errors import CheckpointError, RemoteCodeError
from diffusekit.pipeline import DiffusionPipeline

from ._toy_components import ToyModel, ToyPipeline, make_toy_pipeline

PIPELINE_CODE = """
from pathlib import Path

from diffusekit.pipeline import DiffusionPipeline

Path(__file__).with_name("ran.txt").write_text("imported")


class {name}(DiffusionPipeline):
    def __init__(self, unet, scheduler, tokenizer=None):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler, tokenizer=tokenizer)
"""

COMPONENT_CODE = """
from pathlib import Path

from torch import nn

from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin

Path(__file__).with_name("ran.txt").write_text("imported")


class RemoteConfig(BaseConfig):
    width: int = 4
    depth: int = 1


class RemoteModel(ModelMixin):
    config_class = RemoteConfig

    def __init__(self, **config):
        super().__init__(**config)
        width = self.config.width
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(self.config.depth))
"""


pytestmark = pytest.mark.usefixtures("toy_components")


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    make_toy_pipeline().save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def set_index(folder: Path, **changes: Any) -> None:
    path = folder / "model_index.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def pipeline_code(folder: Path, file_name: str = "pipeline.py", name: str = "MyPipeline") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_text(PIPELINE_CODE.format(name=name))
    return folder / file_name


# ------------------------------------------------------------------ _class_name [file, Class]


@pytest.mark.parametrize("module_file", ["pipeline", "pipeline.py"])
def test_checkpoint_pipeline_code_needs_trust(checkpoint: Path, module_file: str) -> None:
    pipeline_code(checkpoint)
    set_index(checkpoint, _class_name=[module_file, "MyPipeline"])
    with pytest.raises(RemoteCodeError) as info:
        DiffusionPipeline.from_pretrained(checkpoint)
    message = str(info.value)
    assert "pass trust_remote_code=True" in message
    assert str(checkpoint / "pipeline.py") in message
    assert "MyPipeline" in message
    assert not (checkpoint / "ran.txt").exists()
    pipe = DiffusionPipeline.from_pretrained(checkpoint, trust_remote_code=True)
    assert type(pipe).__name__ == "MyPipeline"
    assert (checkpoint / "ran.txt").read_text() == "imported"
    assert pipe.tokenizer.vocab == {"a": 0, "b": 1}


def test_a_concrete_class_needs_no_checkpoint_code(checkpoint: Path) -> None:
    pipeline_code(checkpoint)
    set_index(checkpoint, _class_name=["pipeline", "MyPipeline"])
    assert type(ToyPipeline.from_pretrained(checkpoint)) is ToyPipeline
    assert not (checkpoint / "ran.txt").exists()


@pytest.mark.parametrize("module_file", ["../pipeline", "/tmp/pipeline", "a/../../pipeline"])
def test_code_outside_the_checkpoint_is_refused(
    checkpoint: Path, module_file: str, tmp_path: Path
) -> None:
    pipeline_code(tmp_path)
    set_index(checkpoint, _class_name=[module_file, "MyPipeline"])
    with pytest.raises(RemoteCodeError, match="points outside the checkpoint"):
        DiffusionPipeline.from_pretrained(checkpoint, trust_remote_code=True)
    assert not (tmp_path / "ran.txt").exists()


def test_missing_code_file_or_class(checkpoint: Path) -> None:
    set_index(checkpoint, _class_name=["pipeline", "MyPipeline"])
    with pytest.raises(RemoteCodeError, match=r"code file .*pipeline.py not found"):
        DiffusionPipeline.from_pretrained(checkpoint, trust_remote_code=True)
    pipeline_code(checkpoint)
    set_index(checkpoint, _class_name=["pipeline", "OtherPipeline"])
    with pytest.raises(RemoteCodeError, match="expected a class OtherPipeline, found None"):
        DiffusionPipeline.from_pretrained(checkpoint, trust_remote_code=True)


# ------------------------------------------------------------ <component>/<library>.py


def test_component_code_needs_trust(checkpoint: Path) -> None:
    ToyModel(width=4).save_pretrained(checkpoint / "safety_checker")
    (checkpoint / "safety_checker" / "my_models.py").write_text(COMPONENT_CODE)
    set_index(checkpoint, safety_checker=["my_models", "RemoteModel"])
    with pytest.raises(RemoteCodeError, match="component 'safety_checker'") as info:
        DiffusionPipeline.from_pretrained(checkpoint)
    assert "trust_remote_code=True" in str(info.value)
    assert not (checkpoint / "safety_checker" / "ran.txt").exists()
    pipe = DiffusionPipeline.from_pretrained(checkpoint, trust_remote_code=True)
    assert type(pipe.safety_checker).__name__ == "RemoteModel"
    assert (checkpoint / "safety_checker" / "ran.txt").exists()


# --------------------------------------------------------------------------- custom_pipeline


def test_custom_pipeline_folder_needs_trust(checkpoint: Path, tmp_path: Path) -> None:
    folder = tmp_path / "community"
    pipeline_code(folder, name="FolderPipeline")
    with pytest.raises(RemoteCodeError, match=r"custom_pipeline=.* runs Python code"):
        DiffusionPipeline.from_pretrained(checkpoint, custom_pipeline=str(folder))
    assert not (folder / "ran.txt").exists()
    pipe = DiffusionPipeline.from_pretrained(
        checkpoint, custom_pipeline=folder, trust_remote_code=True
    )
    assert type(pipe).__name__ == "FolderPipeline"


def test_custom_pipeline_file_and_class_choice(checkpoint: Path, tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text(
        PIPELINE_CODE.format(name="FirstPipeline")
        + PIPELINE_CODE.format(name="SecondPipeline").split("\n", 4)[-1]
    )
    with pytest.raises(RemoteCodeError, match="exactly one DiffusionPipeline subclass") as info:
        DiffusionPipeline.from_pretrained(checkpoint, custom_pipeline=path, trust_remote_code=True)
    assert "FirstPipeline, SecondPipeline" in str(info.value)
    pipe = DiffusionPipeline.from_pretrained(
        checkpoint,
        custom_pipeline=path,
        custom_class_name="SecondPipeline",
        trust_remote_code=True,
    )
    assert type(pipe).__name__ == "SecondPipeline"


def test_community_pipelines_by_name_are_not_fetched(checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="community pipelines by name is not supported"):
        DiffusionPipeline.from_pretrained(
            checkpoint, custom_pipeline="lpw_stable_diffusion", trust_remote_code=True
        )


def test_edited_code_at_the_same_path_is_imported_again(checkpoint: Path) -> None:
    path = pipeline_code(checkpoint)
    set_index(checkpoint, _class_name=["pipeline", "MyPipeline"])
    first = type(DiffusionPipeline.from_pretrained(checkpoint, trust_remote_code=True))
    assert type(DiffusionPipeline.from_pretrained(checkpoint, trust_remote_code=True)) is first
    path.write_text(path.read_text() + "\nVERSION = 2\n")
    second = type(DiffusionPipeline.from_pretrained(checkpoint, trust_remote_code=True))
    assert second is not first
    assert sys.modules[second.__module__].VERSION == 2
