"""Turn a local folder or a Hub repo id into local files (huggingface_hub does the fetching).

Two ways in:

- `fetch_file`: one file by name (a component's config.json, a weights file).
- `list_repo` then `download`: a whole checkpoint. `list_repo` asks the Hub once which files a
  revision holds and which commit that revision is; `download` fetches the subset the caller
  chose, pinned to that commit, so a branch that moves between the two calls cannot mix files
  of two revisions. Files already in the cache at that commit cost no request at all.

Offline (`local_files_only=True`, or `HF_HUB_OFFLINE=1`) nothing touches the network: the
listing is what the huggingface_hub cache holds for the repo at that revision. When the Hub
cannot be reached, the listing falls back to the cache the same way.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import CheckpointError

HUB_OPTIONS = ("revision", "cache_dir", "local_files_only", "token", "force_download")
DEFAULT_REVISION = "main"
_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")
_OFFLINE_HINT = "downloads are off (local_files_only=True or HF_HUB_OFFLINE=1)"
_TOKEN_HINT = "log in with `hf auth login` or pass token="
_MAX_PARALLEL_DOWNLOADS = 8


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
        """No network: asked for, set in the environment, or set in huggingface_hub already.

        huggingface_hub reads HF_HUB_OFFLINE once, at import; the environment is read here on
        every call, so setting it later still keeps diffusekit off the network.
        """
        flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
        constants = sys.modules.get("huggingface_hub.constants")
        return (
            self.local_files_only
            or flag in {"1", "true", "yes", "on"}
            or bool(getattr(constants, "HF_HUB_OFFLINE", False))
        )


@dataclass(frozen=True)
class RepoListing:
    """The files of a Hub repo at one commit.

    `files` are repo-relative POSIX paths. `revision` is the branch, tag or commit asked for,
    `commit` what it pointed to. `cached` is True when the listing was read from the local
    cache (offline, or the Hub was unreachable): `files` then holds only what an earlier
    download left there.
    """

    repo_id: str
    commit: str | None
    files: tuple[str, ...]
    cached: bool = False
    revision: str = DEFAULT_REVISION


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


def list_repo(repo_id: str, options: HubOptions | None = None) -> RepoListing:
    """The commit and file names of `repo_id` at `options.revision`, in one Hub request.

    Offline, or when the Hub cannot be reached, the listing comes from the local cache; a
    CheckpointError says so when the cache holds nothing for that revision.
    """
    options = options or HubOptions()
    if options.offline():
        with _hub_errors(repo_id, options):
            _validate_repo_id(repo_id)
        return _cached_listing(repo_id, options, unreachable=None)
    try:
        with _hub_errors(repo_id, options, keep=_is_unreachable):
            info = _model_info(repo_id, options)
    except Exception as exc:
        if not _is_unreachable(exc):
            raise
        return _cached_listing(repo_id, options, unreachable=exc)
    files = tuple(sibling.rfilename for sibling in info.siblings or ())
    return RepoListing(repo_id, info.sha, files, revision=options.revision or DEFAULT_REVISION)


def download(listing: RepoListing, files: Iterable[str], options: HubOptions | None = None) -> Path:
    """Fetch exactly `files` of a listed repo and return the local snapshot folder holding them.

    Files come from the listing's commit (so they all belong to one revision); those already
    cached cost no request. Offline, the cached snapshot is returned without network access.
    The cache also records which commit the listed revision was, which is how a later
    offline `list_repo` by branch or tag name finds these files.
    """
    options = options or HubOptions()
    wanted = list(dict.fromkeys(files))
    _check_listed(listing, wanted, options)
    pinned = replace(options, revision=listing.commit or listing.revision)
    if not wanted:
        return _snapshot_folder(listing, pinned)

    def fetch(name: str) -> Path:
        return _download(listing.repo_id, name, None, pinned)

    if len(wanted) == 1:
        paths = [fetch(wanted[0])]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(_MAX_PARALLEL_DOWNLOADS, len(wanted))) as pool:
            paths = list(pool.map(fetch, wanted))
    if listing.commit is not None and not listing.cached:
        _remember_ref(listing, options)
    return paths[0].parents[len(Path(wanted[0]).parts) - 1]


# ------------------------------------------------------------------------------- requests


def _model_info(repo_id: str, options: HubOptions) -> Any:
    from huggingface_hub import HfApi

    return HfApi().model_info(repo_id, revision=options.revision, token=options.token)


def _validate_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import validate_repo_id

    validate_repo_id(repo_id)


def _download(repo_id: str, filename: str, subfolder: str | None, options: HubOptions) -> Path:
    from huggingface_hub import hf_hub_download

    where = f"{subfolder}/{filename}" if subfolder else filename
    with _hub_errors(repo_id, options, where=where):
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


def _check_listed(listing: RepoListing, wanted: list[str], options: HubOptions) -> None:
    listed = set(listing.files)
    unknown = [name for name in wanted if name not in listed]
    if not unknown:
        return
    names = ", ".join(unknown)
    if listing.cached:
        reason = _OFFLINE_HINT if options.offline() else "the Hub could not be reached"
        raise CheckpointError(
            f"{listing.repo_id}: {names} not in the local cache (commit {listing.commit}) and "
            f"{reason}; cached files: {', '.join(listing.files) or 'none'}"
        )
    raise CheckpointError(
        f"{listing.repo_id}: the repository has no file {names} at commit {listing.commit}"
    )


# ---------------------------------------------------------------------------------- cache


def _repo_cache_folder(repo_id: str, options: HubOptions) -> Path:
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    root = constants.HF_HUB_CACHE if options.cache_dir is None else options.cache_dir
    return Path(root) / repo_folder_name(repo_id=repo_id, repo_type="model")


def _cached_commit(repo_folder: Path, revision: str) -> str | None:
    if _COMMIT_HASH.fullmatch(revision):
        return revision
    ref = repo_folder / "refs" / revision
    return ref.read_text().strip() if ref.is_file() else None


def _remember_ref(listing: RepoListing, options: HubOptions) -> None:
    """Record in the cache that the listed revision (a branch or tag) is the listed commit.

    Files fetched by commit hash do not update the cache's refs, so without this an offline
    listing by branch name would not find them.
    """
    if _COMMIT_HASH.fullmatch(listing.revision) or listing.commit is None:
        return
    ref = _repo_cache_folder(listing.repo_id, options) / "refs" / listing.revision
    if ref.is_file() and ref.read_text().strip() == listing.commit:
        return
    ref.parent.mkdir(parents=True, exist_ok=True)
    partial = ref.with_name(f"{ref.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    partial.write_text(listing.commit)
    os.replace(partial, ref)


def _cached_listing(
    repo_id: str, options: HubOptions, *, unreachable: Exception | None
) -> RepoListing:
    revision = options.revision or DEFAULT_REVISION
    repo_folder = _repo_cache_folder(repo_id, options)
    commit = _cached_commit(repo_folder, revision)
    snapshot = repo_folder / "snapshots" / commit if commit else None
    files: tuple[str, ...] = ()
    if snapshot is not None and snapshot.is_dir():
        found = (p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file())
        files = tuple(sorted(found))
    if not files:
        if unreachable is None:
            reason = _OFFLINE_HINT
        else:
            reason = f"the Hub could not be reached ({type(unreachable).__name__}: {unreachable})"
        raise CheckpointError(
            f"{repo_id}: nothing cached for revision {revision!r} in {repo_folder.parent}, and "
            f"{reason}; download it once with network access first"
        )
    return RepoListing(repo_id, commit, files, cached=True, revision=revision)


def _snapshot_folder(listing: RepoListing, options: HubOptions) -> Path:
    repo_folder = _repo_cache_folder(listing.repo_id, options)
    commit = listing.commit or _cached_commit(repo_folder, listing.revision)
    if commit is None:
        raise CheckpointError(
            f"{listing.repo_id}: the listing names no commit and none is cached for revision "
            f"{listing.revision!r}, so there is no snapshot folder"
        )
    return repo_folder / "snapshots" / commit


# --------------------------------------------------------------------------------- errors


@contextmanager
def _hub_errors(
    repo_id: str,
    options: HubOptions,
    *,
    where: str | None = None,
    keep: Callable[[BaseException], bool] | None = None,
) -> Iterator[None]:
    """Raise huggingface_hub's errors as CheckpointErrors that name the repo and what to do.

    The original error stays reachable as `__context__` (callers test it to tell a missing
    file from a failure). Errors for which `keep(error)` is true pass through unchanged.
    """
    try:
        yield
    except Exception as exc:
        if keep is not None and keep(exc):
            raise
        message = _error_message(exc, repo_id, options, where)
        if message is None:
            raise
        raise CheckpointError(message) from None


def _error_message(
    exc: Exception, repo_id: str, options: HubOptions, where: str | None
) -> str | None:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    revision = options.revision or DEFAULT_REVISION
    if isinstance(exc, HFValidationError):
        return f"{repo_id!r} is neither a local folder nor a valid Hub repo id ({exc})"
    if isinstance(exc, GatedRepoError):
        return (
            f"{repo_id}: the repository is gated; accept its conditions on its Hub page, "
            f"then {_TOKEN_HINT}"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return f"{repo_id}: no such Hub repository, or it is gated/private ({_TOKEN_HINT})"
    if isinstance(exc, RevisionNotFoundError):
        return (
            f"{repo_id}: no revision {revision!r} in the repository "
            "(expected a branch, tag or commit hash)"
        )
    if isinstance(exc, LocalEntryNotFoundError):
        if options.offline():
            reason = _OFFLINE_HINT
        else:
            cause = exc.__cause__
            detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
            reason = f"the Hub could not be reached{detail}"
        return f"{repo_id}: {where} is not in the local cache and {reason}"
    if isinstance(exc, EntryNotFoundError):
        return f"{repo_id}: the repository has no file {where} at revision {revision!r}"
    if isinstance(exc, HfHubHTTPError) and _status(exc) in {401, 403}:
        return f"{repo_id}: the Hub refused access (HTTP {_status(exc)}); {_TOKEN_HINT}"
    return None


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


_TRANSPORT_ERRORS = (
    ("httpx2", "TransportError"),
    ("httpx", "TransportError"),
    ("requests", "ConnectionError"),
    ("requests", "Timeout"),
)


def _is_unreachable(exc: BaseException) -> bool:
    """True for failures that say nothing about the repo: no network, offline mode, Hub down."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return True
    if isinstance(exc, HfHubHTTPError):
        status = _status(exc)
        return status is None or status >= 500 or status == 429
    transport = tuple(
        cls
        for module, name in _TRANSPORT_ERRORS
        if isinstance(cls := getattr(sys.modules.get(module), name, None), type)
    )
    return isinstance(exc, transport)
