"""Choose which files of a pipeline repository a load needs, from its file listing alone.

Weights come in several formats and variants side by side (``model.safetensors``,
``model.fp16.safetensors``, ``pytorch_model.bin``, ``flax_model.msgpack``, shards with an
index, ...). A load needs one set per component folder: the requested variant when the
folder has it (else the plain files), safetensors over pickles unless the user asked for
pickles, and never the formats diffusekit cannot read. Every other file of a needed folder
(configs, tokenizer files) is kept; folders of components passed in by the user are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WEIGHT = re.compile(
    r"^(?P<stem>[^./]+)"
    r"(?:\.(?P<variant>[^./-]+))?"
    r"(?:-\d{5}-of-\d{5})?"
    r"\.(?P<fmt>safetensors|bin)$"
)
_INDEX = re.compile(
    r"^(?P<stem>[^./]+)\.(?P<fmt>safetensors|bin)\.index(?:\.(?P<variant>[^./]+))?\.json$"
)
_UNREADABLE = (".msgpack", ".onnx", ".onnx_data", ".pb", ".h5", ".ot", ".ckpt", ".pt", ".pth")


@dataclass(frozen=True)
class _Weight:
    path: str
    fmt: str
    variant: str | None


def _weight(path: str) -> _Weight | None:
    name = path.rpartition("/")[2]
    match = _WEIGHT.match(name) or _INDEX.match(name)
    if match is None:
        return None
    return _Weight(path, match.group("fmt"), match.group("variant"))


def select_files(
    files: Iterable[str],
    folders: Iterable[str],
    *,
    variant: str | None = None,
    use_safetensors: bool | None = None,
    top_level: Iterable[str] = ("model_index.json",),
) -> list[str]:
    """The subset of `files` (repo-relative paths) that loading `folders` needs."""
    by_folder: dict[str, list[str]] = {}
    for path in files:
        folder, _, _ = path.partition("/")
        if "/" in path:
            by_folder.setdefault(folder, []).append(path)
    chosen = [name for name in top_level if name in set(files)]
    for folder in folders:
        chosen += _folder_files(by_folder.get(folder, []), variant, use_safetensors)
    return chosen


def _folder_files(paths: list[str], variant: str | None, use_safetensors: bool | None) -> list[str]:
    plain = [p for p in paths if _weight(p) is None and not p.endswith(_UNREADABLE)]
    weights = [w for p in paths if (w := _weight(p)) is not None]
    return plain + [w.path for w in _pick_weights(weights, variant, use_safetensors)]


def _formats(use_safetensors: bool | None) -> list[str]:
    if use_safetensors is True:
        return ["safetensors"]
    return ["bin", "safetensors"] if use_safetensors is False else ["safetensors", "bin"]


def _pick_weights(
    weights: list[_Weight], variant: str | None, use_safetensors: bool | None
) -> list[_Weight]:
    """The first format (by preference) with weights, in `variant` if it has it, else plain."""
    for fmt in _formats(use_safetensors):
        of_format = [w for w in weights if w.fmt == fmt]
        chosen = variant if any(w.variant == variant for w in of_format) else None
        wanted = [w for w in of_format if w.variant == chosen]
        if wanted:
            return wanted
    return []


def is_weights_of(name: str, variant: str | None) -> bool:
    """Whether `name` is a weights file or shard index of `variant` (None: plain), any format."""
    weight = _weight(name)
    return weight is not None and weight.variant == variant


def has_weights(names: Iterable[str]) -> bool:
    """Whether any of the file names is a weights file (or shard index)."""
    return any(_weight(name) is not None for name in names)


def folder_variant(
    names: Iterable[str], variant: str | None, use_safetensors: bool | None
) -> str | None:
    """The variant a folder holding files `names` loads: `variant` when its chosen weights
    are of that variant, None when the folder falls back to plain files (or has none)."""
    weights = [w for name in names if (w := _weight(name)) is not None]
    picked = _pick_weights(weights, variant, use_safetensors)
    return picked[0].variant if picked else None
