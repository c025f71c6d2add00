"""Toy components registered for a test: the pipeline tests' (`_toy_components`, through
``pytestmark = pytest.mark.usefixtures("toy_components")``) and the `diffusekit` command's
(`_cli_toys`), with the command's toy checkpoints."""

from __future__ import annotations

import pytest

from ._cli_toys import CALLS, toy_classes, write_checkpoint
from ._toy_components import toy_registry


@pytest.fixture
def toy_components(diffusekit_registry):
    """Every class of `_toy_components` resolvable as ``diffusers.<Name>``."""
    with toy_registry():
        yield


@pytest.fixture
def cli_toys(diffusekit_registry):
    """The toy pipelines registered (and their call log emptied) for one test."""
    CALLS.clear()
    with toy_classes():
        yield


@pytest.fixture
def image_ckpt(tmp_path, cli_toys):
    return write_checkpoint(tmp_path / "image-ckpt")


@pytest.fixture
def text_ckpt(tmp_path, cli_toys):
    return write_checkpoint(tmp_path / "text-ckpt", kind="text")
