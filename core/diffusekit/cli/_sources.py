"""Where a checkpoint comes from: a folder, or a Hub repo id with ``@revision``, a subfolder
and a weights variant.

``owner/name@v1.0`` is the repo at tag/branch/commit ``v1.0`` (``--revision`` says the same).
A Hub checkpoint is pinned to the commit its revision points to when it is opened, so what is
recorded in an image names exactly the files that made it. Hub failures (gated, missing repo,
revision or file) arrive as one-line `CheckpointError`s from `diffusekit.hub`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import hub
from .._model_index import MODEL_INDEX, ModelIndex, read_model_index
from ._errors import OptionError


@dataclass(frozen=True)
class Source:
    """A checkpoint as the user named it; `commit` is filled in once a Hub repo is listed."""

    location: str
    revision: str | None = None
    subfolder: str | None = None
    variant: str | None = None
    commit: str | None = None

    @property
    def is_hub(self) -> bool:
        return not hub.is_local(self.location)

    @property
    def model_name(self) -> str:
        """A short name for the model (A1111's ``Model:``): repo id or folder name."""
        if self.is_hub:
            return self.location
        return Path(self.location).resolve().name

    def folder(self) -> Path:
        """The local folder holding model_index.json (local sources only)."""
        root = Path(self.location).expanduser()
        return root / self.subfolder if self.subfolder else root

    def options(self) -> hub.HubOptions:
        return hub.HubOptions(revision=self.commit or self.revision)

    def as_dict(self) -> dict[str, Any]:
        """For the record: a folder as an absolute path, so --from works from anywhere."""
        location = self.location if self.is_hub else os.path.abspath(self.location)
        return {
            "checkpoint": location,
            "revision": self.revision,
            "commit": self.commit,
            "subfolder": self.subfolder,
            "variant": self.variant,
        }


def parse(
    checkpoint: str,
    *,
    revision: str | None = None,
    subfolder: str | None = None,
    variant: str | None = None,
) -> Source:
    """Split ``owner/name@revision``; a folder is never split (its name may contain '@')."""
    location = checkpoint
    if not hub.is_local(checkpoint) and "@" in checkpoint:
        location, _, pinned = checkpoint.rpartition("@")
        if not location or not pinned:
            raise OptionError(f"CHECKPOINT {checkpoint!r}: expected owner/name@revision")
        if revision is not None and revision != pinned:
            raise OptionError(
                f"CHECKPOINT {checkpoint!r} names revision {pinned!r} but --revision is "
                f"{revision!r}; give one"
            )
        revision = pinned
    source = Source(location, revision, subfolder.strip("/") if subfolder else None, variant)
    if not source.is_hub and revision is not None:
        raise OptionError(f"--revision {revision!r}: {checkpoint} is a local folder, not a repo")
    return source


def without_revision(checkpoint: str) -> str:
    """`checkpoint` without an ``@revision`` suffix (a folder is returned as it is)."""
    if hub.is_local(checkpoint) or "@" not in checkpoint:
        return checkpoint
    return checkpoint.rpartition("@")[0]


def pin(source: Source) -> Source:
    """The same source with the commit its revision points to now (Hub repos only)."""
    if not source.is_hub or source.commit is not None:
        return source
    listing = hub.list_repo(source.location, source.options())
    return replace(source, commit=listing.commit)


def read_index(source: Source) -> ModelIndex:
    if not source.is_hub:
        return read_model_index(hub.fetch_file(source.folder(), MODEL_INDEX))
    path = hub.fetch_file(
        source.location, MODEL_INDEX, subfolder=source.subfolder, options=source.options()
    )
    return read_model_index(path)


def loadable(source: Source, index: ModelIndex) -> str | os.PathLike[str]:
    """What to pass to `from_pretrained`: a local folder, a repo id, or (a Hub checkpoint in a
    subfolder, which the pipeline loader does not take) the downloaded snapshot subfolder."""
    if source.is_hub and not source.subfolder:
        return source.location
    return local_folder(source, index)


def local_folder(source: Source, index: ModelIndex) -> Path:
    """The checkpoint folder on this machine: the folder itself, or for a Hub checkpoint the
    snapshot holding the files a load needs (downloaded now, one weights set per folder)."""
    if not source.is_hub:
        return source.folder()
    from .._snapshot_files import select_files

    listing = hub.list_repo(source.location, source.options())
    prefix = f"{source.subfolder}/" if source.subfolder else ""
    inside = [f.removeprefix(prefix) for f in listing.files if f.startswith(prefix)]
    folders = [name for name, spec in index.components.items() if not spec.is_empty]
    wanted = select_files(inside, folders, variant=source.variant)
    root = hub.download(listing, [prefix + f for f in wanted], source.options())
    return root / source.subfolder if source.subfolder else root


def load_options(source: Source) -> dict[str, Any]:
    """The `from_pretrained` options that select the files (revision, variant)."""
    options: dict[str, Any] = {}
    if source.is_hub and not source.subfolder and (source.commit or source.revision):
        options["revision"] = source.commit or source.revision
    if source.variant is not None:
        options["variant"] = source.variant
    return options
