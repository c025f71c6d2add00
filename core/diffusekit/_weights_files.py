"""Weights files of a model folder: their names, finding them, reading them, writing them.

Names are the reference's own, so folders move between the two libraries unchanged:

==================  =============================================================
single file         ``diffusion_pytorch_model[.<variant>].safetensors``
shard               ``diffusion_pytorch_model[.<variant>]-00001-of-00003.safetensors``
shard index         ``diffusion_pytorch_model.safetensors.index[.<variant>].json``
pickle              the same with ``.bin`` for ``.safetensors``
==================  =============================================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch

from . import _files, _safetensors_io, hub
from .errors import CheckpointError

STEM = "diffusion_pytorch_model"
Format = Literal["safetensors", "bin"]
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})


def single_name(fmt: Format, variant: str | None = None, stem: str = STEM) -> str:
    return f"{stem}.{variant}.{fmt}" if variant else f"{stem}.{fmt}"


def shard_name(fmt: Format, variant: str | None, index: int, count: int) -> str:
    stem = f"{STEM}.{variant}" if variant else STEM
    return f"{stem}-{index:05d}-of-{count:05d}.{fmt}"


def index_name(fmt: Format, variant: str | None = None, stem: str = STEM) -> str:
    return f"{stem}.{fmt}.index.{variant}.json" if variant else f"{stem}.{fmt}.index.json"


def owned_patterns(variant: str | None) -> tuple[str, ...]:
    """Globs of the files a save of `variant` replaces (both formats; other variants stay)."""
    patterns: list[str] = []
    for fmt in ("safetensors", "bin"):
        stem = f"{STEM}.{variant}" if variant else STEM
        patterns += [single_name(fmt, variant), f"{stem}-*-of-*.{fmt}", index_name(fmt, variant)]
    return tuple(patterns)


def parse_size(size: int | str, *, argument: str = "max_shard_size") -> int:
    """Bytes from an int or a string such as ``"5GB"``, ``"500MB"`` or ``"2GiB"``."""
    if isinstance(size, int) and not isinstance(size, bool):
        value = size
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(size))
        unit = match.group(2).upper() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(
                f"{argument}: expected bytes as an int or a string like '5GB' or '500MB', "
                f"found {size!r}"
            )
        value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise ValueError(f"{argument}: expected a positive size, found {size!r}")
    return value


def tensor_nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def plan_shards(state: dict[str, torch.Tensor], limit: int) -> list[dict[str, torch.Tensor]]:
    """Split `state`, in order, into shards of at most `limit` bytes.

    A tensor bigger than `limit` gets a shard of its own and the shard being filled stays
    open, which is how the reference (huggingface_hub) splits, so both write the same files.
    """
    shards: list[dict[str, torch.Tensor]] = []
    current: dict[str, torch.Tensor] = {}
    used = 0
    for name, tensor in state.items():
        size = tensor_nbytes(tensor)
        if size > limit:
            shards.append({name: tensor})
            continue
        if used + size > limit:
            shards.append(current)
            current, used = {}, 0
        current[name] = tensor
        used += size
    if current or not shards:
        shards.append(current)
    return shards


# ------------------------------------------------------------------------------------ writing


def write(
    folder: Path,
    state: dict[str, torch.Tensor],
    *,
    fmt: Format,
    variant: str | None,
    max_shard_size: int,
) -> list[Path]:
    """Write `state` into `folder` as one file or as shards plus an index; return the files."""
    shards = plan_shards(state, max_shard_size)
    if len(shards) == 1:
        names = [single_name(fmt, variant)]
    else:
        names = [shard_name(fmt, variant, i, len(shards)) for i in range(1, len(shards) + 1)]
    for name, shard in zip(names, shards):
        _write_one(folder / name, shard, fmt)
    written = [folder / name for name in names]
    if len(shards) > 1:
        index = {
            "metadata": {"total_size": sum(tensor_nbytes(t) for t in state.values())},
            "weight_map": {key: name for name, shard in zip(names, shards) for key in shard},
        }
        written.append(folder / index_name(fmt, variant))
        _files.write_text_atomic(written[-1], _files.dump_json(index))
    return written


def _write_one(path: Path, tensors: dict[str, torch.Tensor], fmt: Format) -> None:
    if fmt == "safetensors":
        _safetensors_io.save_file(tensors, path, metadata={"format": "pt"})
    else:
        torch.save({k: v.detach().contiguous() for k, v in tensors.items()}, path)


# ----------------------------------------------------------------------------------- locating


@dataclass(frozen=True)
class WeightsFiles:
    """The weights files found for one model: one file, or shards named by an index."""

    fmt: Format
    paths: tuple[Path, ...]
    index: Path | None = None
    weight_map: dict[str, str] | None = None


def locate(
    path_or_repo: str | os.PathLike[str],
    *,
    subfolder: str | None,
    variant: str | None,
    use_safetensors: bool | None,
    options: hub.HubOptions,
    stem: str = STEM,
) -> WeightsFiles:
    """Find the weights to load: safetensors, else `.bin` pickles if use_safetensors=False.

    `stem` names the files: ours and the reference's by default, ``"model"`` for transformers.
    """
    formats: list[Format] = ["safetensors"]
    if use_safetensors is False:
        formats.append("bin")
    for fmt in formats:
        found = _find(path_or_repo, subfolder, variant, fmt, options, stem)
        if found is not None:
            return found
    raise CheckpointError(
        _not_found_message(path_or_repo, subfolder, variant, use_safetensors, stem)
    )


def _find(
    path_or_repo: str | os.PathLike[str],
    subfolder: str | None,
    variant: str | None,
    fmt: Format,
    options: hub.HubOptions,
    stem: str = STEM,
) -> WeightsFiles | None:
    single = _try_fetch(path_or_repo, single_name(fmt, variant, stem), subfolder, options)
    if single is not None:
        return WeightsFiles(fmt, (single,))
    index = _try_fetch(path_or_repo, index_name(fmt, variant, stem), subfolder, options)
    if index is None:
        return None
    weight_map = _read_index(index)
    names = sorted(set(weight_map.values()))
    shards = tuple(_fetch_shard(path_or_repo, name, subfolder, options, index) for name in names)
    return WeightsFiles(fmt, shards, index, weight_map)


def _try_fetch(
    path_or_repo: str | os.PathLike[str], name: str, subfolder: str | None, options: hub.HubOptions
) -> Path | None:
    if hub.is_local(path_or_repo):
        path = Path(path_or_repo, subfolder or "", name)
        return path if path.is_file() else None
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        return hub.fetch_file(path_or_repo, name, subfolder=subfolder, options=options)
    except CheckpointError as exc:
        if isinstance(exc.__context__, (EntryNotFoundError, LocalEntryNotFoundError)):
            return None
        raise


def _fetch_shard(
    path_or_repo: str | os.PathLike[str],
    name: str,
    subfolder: str | None,
    options: hub.HubOptions,
    index: Path,
) -> Path:
    path = _try_fetch(path_or_repo, name, subfolder, options)
    if path is None:
        raise CheckpointError(f"{index}: names the shard {name}, which is missing")
    return path


def _read_index(index: Path) -> dict[str, str]:
    with index.open("rb") as handle:
        _safetensors_io.check_not_lfs_pointer(index, handle.read(64))
    data = _files.read_json_object(index, what="shard index")
    weight_map = data.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index}: expected a non-empty 'weight_map' object of key -> file")
    bad = [k for k, v in weight_map.items() if not isinstance(v, str) or "/" in v or "\\" in v]
    if bad:
        raise CheckpointError(
            f"{index}: 'weight_map' should map keys to file names in the same folder; "
            f"bad entries for {bad[:5]}"
        )
    return weight_map


def _not_found_message(
    path_or_repo: str | os.PathLike[str],
    subfolder: str | None,
    variant: str | None,
    use_safetensors: bool | None,
    stem: str = STEM,
) -> str:
    where = Path(path_or_repo, subfolder) if subfolder else Path(path_or_repo)
    wanted = [single_name("safetensors", variant, stem), index_name("safetensors", variant, stem)]
    if use_safetensors is False:
        wanted += [single_name("bin", variant, stem), index_name("bin", variant, stem)]
    message = f"{where}: no weights file; looked for {', '.join(wanted)}"
    if hub.is_local(path_or_repo):
        present = sorted(p.name for p in where.iterdir()) if where.is_dir() else []
        message += f"; the folder holds: {', '.join(present) if present else 'nothing'}"
        pickles = [n for n in present if n.endswith(".bin")]
        if pickles and use_safetensors is not False:
            message += (
                f". Found pickle weights ({', '.join(pickles)}): pickles are loaded only on "
                "request, pass use_safetensors=False"
            )
    return message


# ------------------------------------------------------------------------------------ reading


class TensorSource(Protocol):
    """One weights file: its keys and shapes without reading, tensors on demand."""

    path: Path

    def names(self) -> list[str]: ...

    def shape(self, name: str) -> tuple[int, ...]: ...

    def tensor(self, name: str, dtype: torch.dtype | None = None) -> torch.Tensor: ...


class _PickleFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._state = _read_pickle(path)

    def names(self) -> list[str]:
        return list(self._state)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._state[name].shape)

    def tensor(self, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
        tensor = self._state[name]
        return tensor if dtype is None else tensor.to(dtype)


def open_files(files: WeightsFiles) -> Iterator[TensorSource]:
    """Each weights file in turn, checked against the index if there is one."""
    for path in files.paths:
        source: TensorSource
        if files.fmt == "safetensors":
            source = _safetensors_io.SafetensorsFile(path)
        else:
            source = _PickleFile(path)
        if files.weight_map is not None:
            listed = {k for k, v in files.weight_map.items() if v == path.name}
            absent = sorted(listed - set(source.names()))
            if absent:
                raise CheckpointError(
                    f"{files.index}: lists {absent[:5]} in {path.name}, which does not hold them"
                )
        yield source


def keys_to_load(files: WeightsFiles, source: TensorSource) -> list[str]:
    """The keys to take from `source`: all, or those the index assigns to it."""
    if files.weight_map is None:
        return source.names()
    return [k for k in source.names() if files.weight_map.get(k) == source.path.name]


def _read_pickle(path: Path) -> dict[str, torch.Tensor]:
    with path.open("rb") as handle:
        _safetensors_io.check_not_lfs_pointer(path, handle.read(64))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: cannot read this pickle with weights_only=True and mmap=True ({exc})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(state).__name__}")
    return state
