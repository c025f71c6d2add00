"""Import Python code shipped inside a checkpoint, only when the user trusts it.

A checkpoint can carry code in three ways: ``_class_name: [module_file, Class]`` in
``model_index.json``, a ``<component>/<library>.py`` file for one component, and a
``custom_pipeline=`` folder or file passed by the user. All three go through `load_class`,
which refuses unless ``trust_remote_code=True``. Nothing is ever fetched from a
community-pipelines index: a custom pipeline must be a local folder or file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import ModuleType

from .errors import RemoteCodeError


def module_path(folder: Path, module_file: str) -> Path:
    """``pipeline`` or ``pipeline.py`` inside `folder`, refusing names that leave it.

    The check is on the name, not on the resolved file: files of a Hub snapshot are
    symlinks into the cache's blob store, outside the snapshot folder by design.
    """
    name = module_file if module_file.endswith(".py") else f"{module_file}.py"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts or PureWindowsPath(name).drive:
        raise RemoteCodeError(f"{folder}: code file {module_file!r} points outside the checkpoint")
    return folder.joinpath(*parts)


def load_class(path: Path, class_name: str | None, *, trusted: bool, why: str) -> type:
    """Import `path` and return `class_name` from it (or its single pipeline class)."""
    if not trusted:
        raise RemoteCodeError(
            f"{why} runs Python code from {path}; pass trust_remote_code=True to allow it "
            f"(read the file first: it runs with your permissions)"
        )
    if not path.is_file():
        raise RemoteCodeError(f"{why}: code file {path} not found")
    module = _import_file(path)
    if class_name is not None:
        found = getattr(module, class_name, None)
        if not isinstance(found, type):
            raise RemoteCodeError(f"{path}: expected a class {class_name}, found {found!r}")
        return found
    return _single_pipeline_class(module, path)


def _import_file(path: Path) -> ModuleType:
    """Import `path` once per content: an edited file at the same path is imported anew."""
    digest = hashlib.sha256(str(path).encode() + b"\0" + path.read_bytes()).hexdigest()[:12]
    name = f"diffusekit_remote_code.{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RemoteCodeError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _single_pipeline_class(module: ModuleType, path: Path) -> type:
    from .pipeline import DiffusionPipeline

    defined = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, DiffusionPipeline)
        and obj.__module__ == module.__name__
    ]
    if len(defined) != 1:
        names = ", ".join(cls.__name__ for cls in defined) or "none"
        raise RemoteCodeError(
            f"{path}: expected exactly one DiffusionPipeline subclass defined in the file, "
            f"found {names}; pass custom_class_name= to choose"
        )
    return defined[0]
