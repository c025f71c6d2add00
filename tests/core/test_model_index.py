"""Parsing ``model_index.json``: the shapes accepted, and a clear error for each bad file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diffusekit._model_index import ComponentSpec, read_model_index
from diffusekit.errors import CheckpointError, ConfigError, DiffusekitError
from diffusekit.pipeline import DiffusionPipeline

from ._toy_components import toy_registry


def write_index(folder: Path, data: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model_index.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_parses_components_values_and_private_keys(tmp_path: Path) -> None:
    path = write_index(
        tmp_path,
        {
            "_class_name": "StableDiffusionPipeline",
            "_diffusers_version": "0.6.0",
            "unet": ["diffusers", "UNet2DConditionModel"],
            "safety_checker": [None, None],
            "feature_extractor": ["onnxruntime.training", "ORTModule"],
            "requires_safety_checker": False,
        },
    )
    index = read_model_index(path)
    assert index.class_name == "StableDiffusionPipeline"
    assert index.remote_module is None
    assert index.components == {
        "unet": ComponentSpec("diffusers", "UNet2DConditionModel"),
        "safety_checker": ComponentSpec(None, None),
        "feature_extractor": ComponentSpec("onnxruntime.training", "ORTModule"),
    }
    assert index.components["safety_checker"].is_empty
    assert index.values == {"requires_safety_checker": False}
    assert index.private == {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.6.0",
    }


def test_class_name_pair_names_checkpoint_code(tmp_path: Path) -> None:
    index = read_model_index(write_index(tmp_path, {"_class_name": ["pipeline", "MyPipeline"]}))
    assert (index.class_name, index.remote_module) == ("MyPipeline", "pipeline")


BAD_FILES = [
    ("{not json", ConfigError, r"not valid JSON \(Expecting property name"),
    (b"\xff\xfe{}", ConfigError, "expected UTF-8 JSON text"),
    ([1, 2], ConfigError, "expected a JSON object, found list"),
    ({"unet": ["diffusers", "X"]}, CheckpointError, "field '_class_name' must be .* found None"),
    ({"_class_name": 3}, CheckpointError, "field '_class_name' must be .* found 3"),
    ({"_class_name": "My Pipeline"}, CheckpointError, "found 'My Pipeline'"),
    ({"_class_name": ["a", "B", "c"]}, CheckpointError, r"found \['a', 'B', 'c'\]"),
    ({"_class_name": ["", "B"]}, CheckpointError, r"found \['', 'B'\]"),
    (
        {"_class_name": "P", "unet": ["diffusers"]},
        CheckpointError,
        r"component 'unet' must be \[library, ClassName\], found \['diffusers'\]",
    ),
    (
        {"_class_name": "P", "unet": ["diffusers", "U", "x"]},
        CheckpointError,
        "component 'unet' must be",
    ),
    (
        {"_class_name": "P", "unet": ["diffusers", None]},
        CheckpointError,
        r"strings or \[null, null\], found \['diffusers', None\]",
    ),
    ({"_class_name": "P", "unet": [None, "U"]}, CheckpointError, "strings or"),
    ({"_class_name": "P", "unet": ["diffusers", 5]}, CheckpointError, "strings or"),
    (
        {"_class_name": "P", "unet": ["diffusers", "../Evil"]},
        CheckpointError,
        "names library 'diffusers' and class '../Evil'; expected a dotted module name",
    ),
    (
        {"_class_name": "P", "unet": ["os/path", "U"]},
        CheckpointError,
        "names library 'os/path'",
    ),
    ({"_class_name": "P", "unet": ["a..b", "U"]}, CheckpointError, "names library 'a..b'"),
]


@pytest.mark.parametrize("content, error, message", BAD_FILES)
def test_bad_files_get_clear_errors(
    tmp_path: Path, content: Any, error: type[Exception], message: str
) -> None:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "model_index.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(error, match=message) as info:
        read_model_index(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["../x", "a/b", "x.y", "..", "a b", "1st", "", "unet/"])
@pytest.mark.parametrize("as_component", [True, False])
def test_path_like_component_names_are_refused(
    tmp_path: Path, name: str, as_component: bool
) -> None:
    value = ["diffusers", "UNet2DModel"] if as_component else True
    path = write_index(tmp_path, {"_class_name": "P", name: value})
    with pytest.raises(CheckpointError, match=r"is not a plain identifier") as info:
        read_model_index(path)
    assert repr(name) in str(info.value)


def test_missing_file_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=rf"{tmp_path}/model_index.json: file not found"):
        DiffusionPipeline.from_pretrained(tmp_path)


@pytest.mark.parametrize("content, error, message", BAD_FILES[:5])
def test_from_pretrained_reports_the_same_errors(
    tmp_path: Path, content: Any, error: type[Exception], message: str, diffusekit_registry: Any
) -> None:
    path = tmp_path / "model_index.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with toy_registry(), pytest.raises(DiffusekitError, match=message):
        DiffusionPipeline.from_pretrained(tmp_path)


def test_path_like_name_is_refused_before_any_folder_is_read(
    tmp_path: Path, diffusekit_registry: Any
) -> None:
    (tmp_path / "outside").mkdir()
    ckpt = tmp_path / "ckpt"
    write_index(ckpt, {"_class_name": "ToyPipeline", "../outside": ["diffusers", "ToyModel"]})
    with toy_registry(), pytest.raises(CheckpointError, match=r"'../outside' is not a plain"):
        DiffusionPipeline.from_pretrained(ckpt)
