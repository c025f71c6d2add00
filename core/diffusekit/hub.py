"""Turn a local folder or a Hub repo id into local files (huggingface_hub does the fetching)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CheckpointError

HUB_OPTIONS = ("revision", "cache_dir", "local_files_only", "token", "force_download")


@dataclass(frozen=True)
class HubOptions:
    revision: str | None = None
    cache_dir: str | os.PathLike[str] | None = None
    local_files_only: bool = False
    token: str | bool | None = None
    force_download: bool = False

    @classmethod
    def pop_from(cls, kwargs: dict[str, Any]) -> HubOptions:
        """Take the Hub options out of `kwargs`, leaving everything else in place."""
        return cls(**{name: kwargs.pop(name) for name in HUB_OPTIONS if name in kwargs})

    def offline(self) -> bool:
        flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
        return self.local_files_only or flag in {"1", "true", "yes", "on"}


def is_local(path_or_repo: str | os.PathLike[str]) -> bool:
    return Path(path_or_repo).is_dir()


def fetch_file(
    path_or_repo: str | os.PathLike[str],
    filename: str,
    *,
    subfolder: str | None = None,
    options: HubOptions | None = None,
) -> Path:
    """The local path of `filename` in a folder or repo (downloaded to the Hub cache if needed)."""
    relative = f"{subfolder}/{filename}" if subfolder else filename
    if is_local(path_or_repo):
        path = Path(path_or_repo) / relative
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found in checkpoint folder {path_or_repo}")
        return path
    return _download(str(path_or_repo), filename, subfolder, options or HubOptions())


def _download(repo_id: str, filename: str, subfolder: str | None, options: HubOptions) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        return Path(
            hf_hub_download(
                repo_id,
                filename,
                subfolder=subfolder or None,
                revision=options.revision,
                cache_dir=None if options.cache_dir is None else str(options.cache_dir),
                local_files_only=options.offline(),
                token=options.token,
                force_download=options.force_download,
            )
        )
    except HFValidationError as exc:
        raise CheckpointError(
            f"{repo_id!r} is neither a local folder nor a valid Hub repo id ({exc})"
        ) from None
    except RepositoryNotFoundError:
        raise CheckpointError(
            f"{repo_id}: no such Hub repository, or it is gated/private (log in or pass token=)"
        ) from None
    except EntryNotFoundError:
        where = f"{subfolder}/{filename}" if subfolder else filename
        raise CheckpointError(f"{repo_id}: the repository has no file {where}") from None
    except LocalEntryNotFoundError:
        where = f"{subfolder}/{filename}" if subfolder else filename
        raise CheckpointError(
            f"{repo_id}: {where} is not in the local cache and downloads are off "
            f"(local_files_only=True or HF_HUB_OFFLINE=1)"
        ) from None
