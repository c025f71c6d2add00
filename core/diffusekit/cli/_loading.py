"""Open a checkpoint for `generate`: its pipeline class first (cheap), then the weights.

Resolving each component's class imports the plugin modules that provide it (the bar names
each one meanwhile); then the bar counts the bytes of weights loaded, component by component.
"""

from __future__ import annotations

import os
from typing import Any

from .. import hub, registry
from .._model_index import MODEL_INDEX, ModelIndex, read_model_index

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def read_index(checkpoint: str | os.PathLike[str]) -> ModelIndex:
    return read_model_index(hub.fetch_file(checkpoint, MODEL_INDEX))


def pipeline_class(index: ModelIndex) -> type:
    """The class `_class_name` names, resolved through the registry (imports only its module)."""
    if index.remote_module is not None:
        from ..errors import RemoteCodeError

        raise RemoteCodeError(
            f"{index.path}: the pipeline class comes from the checkpoint's own code "
            f"({index.remote_module}); the CLI does not run checkpoint code"
        )
    return registry.resolve("diffusers", index.class_name, requested_by=str(index.path))


def load(
    checkpoint: str | os.PathLike[str],
    index: ModelIndex,
    *,
    dtype: str,
    progress: bool,
    sizes: dict[str, int],
    options: dict[str, Any] | None = None,
) -> Any:
    """`DiffusionPipeline.from_pretrained(checkpoint, **options)` under a bar counting the bytes
    of weights to load (`sizes`: per component, see `_load_progress`; `options`: revision,
    variant). Resolving the component classes comes first and shows their names."""
    import torch
    from tqdm.auto import tqdm

    from ..pipeline import DiffusionPipeline
    from ._load_progress import advancing

    total = sum(sizes.values())
    named = [(n, s) for n, s in index.components.items() if not s.is_empty]
    with tqdm(
        total=total,
        desc="loading",
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not progress,
    ) as bar:
        for name, spec in named:
            bar.set_postfix_str(f"{name} ({spec.class_name})")
            assert spec.library is not None and spec.class_name is not None
            registry.resolve(spec.library, spec.class_name, requested_by=index.where(name))
        bar.set_postfix_str("weights")
        with advancing(bar, sizes):
            pipeline = DiffusionPipeline.from_pretrained(
                checkpoint, torch_dtype=getattr(torch, DTYPES[dtype]), **(options or {})
            )
        bar.set_postfix_str("done")
        bar.update(total - bar.n)
    return pipeline


def on_device(pipeline: Any, device: str | None, progress: bool) -> Any:
    """Move `pipeline` to `device` (None: the best available) and set its step bar."""
    target = device or best_device()
    _check_available(target)
    pipeline.to(target)
    pipeline.set_progress_bar_config(disable=not progress, desc="sampling")
    return pipeline


def best_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "mps" if _mps_available() else "cpu"


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return backend is not None and bool(backend.is_available())


def _check_available(device: str) -> None:
    import torch

    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available, "mps": _mps_available}
    if not available[device]():
        raise ValueError(f"--device {device}: not available on this machine (cpu is)")


def check_source(checkpoint: str) -> None:
    """A path-like CHECKPOINT that is not a folder is an error here, not a Hub lookup."""
    from pathlib import Path

    from ..errors import CheckpointError

    path = Path(checkpoint).expanduser()
    looks_like_path = checkpoint.startswith(("/", ".", "~")) or checkpoint.count("/") > 1
    if path.is_dir():
        return
    if path.exists() or looks_like_path:
        what = "is a file, expected a checkpoint folder" if path.exists() else "no such folder"
        raise CheckpointError(
            f"CHECKPOINT {checkpoint}: {what} (a Hub repo id looks like owner/name)"
        )
