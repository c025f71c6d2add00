"""Read and check a pipeline's ``model_index.json``.

The file maps each component name (also its sub-folder and its ``__init__`` argument) to a
``[library, ClassName]`` pair, or ``[null, null]`` for an optional component saved as None.
Other values are plain ``__init__`` arguments; keys starting with ``_`` are private.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._files import read_json_object
from .errors import CheckpointError

MODEL_INDEX = "model_index.json"
_COMPONENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ComponentSpec:
    """One component entry: where its class comes from (None for a component saved as None)."""

    library: str | None
    class_name: str | None

    @property
    def is_empty(self) -> bool:
        return self.library is None and self.class_name is None


@dataclass(frozen=True)
class ModelIndex:
    """The parsed file: the pipeline class, its components and its plain arguments."""

    path: Path
    class_name: str
    remote_module: str | None = None
    components: dict[str, ComponentSpec] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    private: dict[str, Any] = field(default_factory=dict)

    def where(self, name: str) -> str:
        return f"{self.path}: component '{name}'"


def read_model_index(path: Path) -> ModelIndex:
    """Parse `path`, raising `CheckpointError` that names the file and the field at fault."""
    data = read_json_object(path)
    class_name, remote_module = _pipeline_class(path, data.get("_class_name"))
    components: dict[str, ComponentSpec] = {}
    values: dict[str, Any] = {}
    private: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("_"):
            private[key] = value
        elif isinstance(value, list):
            _check_name(path, key)
            components[key] = _component(path, key, value)
        else:
            _check_name(path, key)
            values[key] = value
    return ModelIndex(path, class_name, remote_module, components, values, private)


def _pipeline_class(path: Path, value: Any) -> tuple[str, str | None]:
    if isinstance(value, str) and value.isidentifier():
        return value, None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(part, str) and part for part in value)
        and value[1].isidentifier()
    ):
        return value[1], value[0]
    raise CheckpointError(
        f"{path}: field '_class_name' must be a pipeline class name or a "
        f"[module_file, ClassName] pair, found {value!r}"
    )


def _check_name(path: Path, key: str) -> None:
    if not _COMPONENT_NAME.match(key):
        raise CheckpointError(
            f"{path}: component name {key!r} is not a plain identifier (component names are "
            f"folder names inside the checkpoint; path-like names are refused)"
        )


def _component(path: Path, key: str, value: list[Any]) -> ComponentSpec:
    if len(value) != 2:
        raise CheckpointError(
            f"{path}: component '{key}' must be [library, ClassName], found {value!r}"
        )
    library, class_name = value
    if library is None and class_name is None:
        return ComponentSpec(None, None)
    if not (isinstance(library, str) and library and isinstance(class_name, str)):
        raise CheckpointError(
            f"{path}: component '{key}' must be [library, ClassName] strings or [null, null], "
            f"found {value!r}"
        )
    if not class_name.isidentifier() or not all(p.isidentifier() for p in library.split(".")):
        raise CheckpointError(
            f"{path}: component '{key}' names library {library!r} and class {class_name!r}; "
            f"expected a dotted module name and a class identifier"
        )
    return ComponentSpec(library, class_name)
