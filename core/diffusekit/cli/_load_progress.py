"""The `generate` loading bar in bytes: how much weight data each component folder loads, and
a hook implementation that advances the bar as each component finishes loading.

A component's size is the sum of the weights files its folder will load (the same choice
the loader makes: the requested variant where the folder has it, else the plain files;
safetensors before pickles; every shard). Components without weights files (schedulers,
tokenizers, feature extractors) count as zero bytes: they load in a blink next to weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._model_index import ModelIndex
from ..hooks import hookimpl

_WEIGHTS_SUFFIXES = (".safetensors", ".bin")


def component_bytes(
    root: Path, index: ModelIndex, pipeline_cls: type, variant: str | None = None
) -> dict[str, int]:
    """Bytes of weights each component of `index` that `pipeline_cls` takes will load."""
    from .._pipeline_loading import init_parameters
    from .._snapshot_files import select_files

    taken = init_parameters(pipeline_cls)
    sizes: dict[str, int] = {}
    for name, spec in index.components.items():
        if spec.is_empty or name not in taken:
            continue
        folder = root / name
        files = (
            [f"{name}/{p.name}" for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
        )
        chosen = select_files(files, [name], variant=variant, top_level=())
        sizes[name] = sum(
            (root / f).stat().st_size for f in chosen if f.endswith(_WEIGHTS_SUFFIXES)
        )
    return sizes


class _Advance:
    """Moves `bar` by a component's bytes when the core reports that component loaded."""

    def __init__(self, bar: Any, sizes: dict[str, int]) -> None:
        self.bar = bar
        self.sizes = sizes

    @hookimpl
    def diffusekit_component_loaded(
        self,
        name: str,
        component: Any,
        library: str | None,
        class_name: str | None,
        path: str | None,
    ) -> None:
        if path is None or name not in self.sizes:
            return
        self.bar.set_postfix_str(f"{name} loaded")
        if self.sizes[name]:
            self.bar.update(self.sizes[name])


@contextmanager
def advancing(bar: Any, sizes: dict[str, int]) -> Iterator[None]:
    """Advance `bar` per loaded component during the block, through the core's
    `diffusekit_component_loaded` hook."""
    from .. import _hook_manager

    with _hook_manager.registered(_Advance(bar, sizes)):
        yield
