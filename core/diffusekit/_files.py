"""Small file helpers: JSON reading with named errors, and atomic writes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import CheckpointError, ConfigError


def read_json_object(path: str | os.PathLike[str], *, what: str = "file") -> dict[str, Any]:
    """Read a JSON object from `path`; errors name the file and what was wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: expected UTF-8 JSON text, found undecodable bytes ({exc})"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write a file so readers see either the old or the new content, never a part.

    The file gets the permissions a plain ``open(path, "w")`` would give it, not the
    owner-only mode of the temporary file it is written as.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


@contextmanager
def atomic_directory(
    target: str | os.PathLike[str], *, replaced: tuple[str, ...] = ()
) -> Iterator[Path]:
    """Yield an empty staging folder beside `target`; on success it replaces `target` in one rename.

    After the writer is done, entries of the old `target` that it did not write are carried
    over (hard-linked where possible), except names matching a glob in `replaced`: files of the
    kind the writer owns, such as stale weight shards. On any exception the staging folder is
    removed and `target` is left exactly as it was, so a crash never leaves a half-written
    checkpoint that looks whole.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise CheckpointError(f"{target}: expected a folder to save into, found a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.saving-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        if target.is_dir():
            _carry_over(target, staging, replaced)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _carry_over(old: Path, new: Path, replaced: tuple[str, ...]) -> None:
    for entry in old.iterdir():
        destination = new / entry.name
        if destination.exists() or any(entry.match(pattern) for pattern in replaced):
            continue
        if entry.is_dir():
            shutil.copytree(entry, destination, copy_function=link_or_copy)
        else:
            link_or_copy(str(entry), str(destination))


def link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
