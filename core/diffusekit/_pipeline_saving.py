"""`DiffusionPipeline.save_pretrained`: one folder per component and ``model_index.json``.

The whole checkpoint is written in a staging folder that replaces the target in one rename,
so a crash leaves either the old checkpoint or the new one, never a mix that looks whole.
Files of other variants already in the target are kept, as a model save keeps them; each
component is written into an empty folder before they are linked in beside it.
"""

from __future__ import annotations

import inspect
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _files
from ._model_index import MODEL_INDEX
from ._snapshot_files import is_weights_of
from .errors import CheckpointError

if TYPE_CHECKING:
    from .pipeline import DiffusionPipeline


def save_pipeline(
    pipeline: DiffusionPipeline,
    save_directory: str | os.PathLike[str],
    *,
    safe_serialization: bool,
    variant: str | None,
    max_shard_size: int | str | None,
) -> Path:
    target = Path(save_directory)
    options = {
        "safe_serialization": safe_serialization,
        "variant": variant,
        "max_shard_size": max_shard_size,
    }
    with _files.atomic_directory(target, replaced=(MODEL_INDEX,)) as staging:
        for name, component in pipeline.components.items():
            if component is not None:
                _save_component(name, component, target / name, staging / name, options)
        _files.write_text_atomic(staging / MODEL_INDEX, _files.dump_json(model_index(pipeline)))
    return target


def model_index(pipeline: DiffusionPipeline) -> dict[str, Any]:
    """The file's content: the config without where it was loaded from, plus our version
    (as component configs record it; readers ignore private keys they do not know)."""
    from . import __version__

    data = dict(pipeline.config)
    data.pop("_name_or_path", None)
    data["_diffusekit_version"] = __version__
    for name in pipeline.components:
        data[name] = list(data[name])
    return data


def _save_component(
    name: str, component: Any, old: Path, destination: Path, options: dict[str, Any]
) -> None:
    saver = getattr(component, "save_pretrained", None)
    if not callable(saver):
        raise CheckpointError(
            f"component '{name}' ({type(component).__module__}.{type(component).__qualname__}) "
            f"has no save_pretrained, so the pipeline cannot be saved"
        )
    parameters = inspect.signature(saver).parameters
    accepted = {k: v for k, v in options.items() if k in parameters and v is not None}
    destination.mkdir(parents=True)
    saver(str(destination), **accepted)
    if old.is_dir():
        _keep_other_variants(old, destination, options["variant"])


def _keep_other_variants(old: Path, new: Path, variant: str | None) -> None:
    """Carry over what the save did not write, except weights of the variant just saved.

    The component is saved into an empty folder first and old files are linked in only
    afterwards: a saver that writes files in place must never write through a hard link
    into the checkpoint being replaced.
    """
    for entry in old.iterdir():
        destination = new / entry.name
        if destination.exists() or is_weights_of(entry.name, variant):
            continue
        if entry.is_dir():
            shutil.copytree(entry, destination, copy_function=_files.link_or_copy)
        else:
            _files.link_or_copy(str(entry), str(destination))
