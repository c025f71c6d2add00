"""The ``diffusekit_load_component`` hook: a plugin may load a pipeline component itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from diffusekit.pipeline import DiffusionPipeline

from ._toy_components import ToyModel, ToyTokenizer, assert_same_weights, make_toy_pipeline

pytestmark = pytest.mark.usefixtures("toy_components")

PLUGINS = "diffusekit.plugins"

LOADING_PLUGIN = """
from diffusekit.hooks import hookimpl

CALLS = []
ANSWER = {}

@hookimpl
def diffusekit_load_component(library, component_class, path, options):
    CALLS.append((library, component_class.__name__, path, dict(options)))
    return ANSWER.get(component_class.__name__)
"""


@pytest.fixture
def plugin(fake_distribution: Any) -> Any:
    fake_distribution(
        "loading-plugin",
        entry_points={PLUGINS: {"loading": "loading_plugin"}},
        modules={"loading_plugin.py": LOADING_PLUGIN},
    )
    import loading_plugin

    return loading_plugin


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    make_toy_pipeline().save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_the_hooks_answer_is_the_component(plugin: Any, checkpoint: Path) -> None:
    mine = ToyModel(width=4, depth=2)
    plugin.ANSWER["ToyModel"] = mine
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert pipe.unet is mine
    assert isinstance(pipe.tokenizer, ToyTokenizer)


def test_none_falls_through_to_from_pretrained(plugin: Any, checkpoint: Path) -> None:
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert_same_weights(make_toy_pipeline().unet, pipe.unet)
    asked = {(library, name) for library, name, _, _ in plugin.CALLS}
    expected = {("diffusers", "ToyModel"), ("diffusers", "ToyScheduler")}
    assert asked == expected | {("diffusers", "ToyTokenizer")}


def test_the_hook_gets_the_folder_and_diffusekits_option_names(
    plugin: Any, checkpoint: Path
) -> None:
    DiffusionPipeline.from_pretrained(
        checkpoint, torch_dtype={"unet": torch.float16}, low_cpu_mem_usage=False
    )
    calls = {name: (path, options) for _, name, path, options in plugin.CALLS}
    assert calls["ToyModel"] == (
        str(checkpoint / "unet"),
        {"dtype": torch.float16, "low_cpu_mem_usage": False},
    )
    assert calls["ToyScheduler"] == (str(checkpoint / "scheduler"), {"low_cpu_mem_usage": False})
