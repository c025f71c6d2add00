"""``save_pretrained(..., push_to_hub=True)``: upload the folder just saved to a Hub repo.

The options are the reference's: ``repo_id`` (default: the folder's name), ``commit_message``,
``private``, ``token`` and ``create_pr``. The repo is created if it does not exist. A folder
without a ``README.md`` gets a minimal model card whose ``library_name`` is ``diffusers``, so
the Hub shows the checkpoint as the Diffusers-format checkpoint it is. The upload runs after
the folder is complete; if it fails, the saved folder stays and the error says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CheckpointError

PUSH_OPTIONS = ("repo_id", "commit_message", "private", "token", "create_pr")

MODEL_CARD = """---
library_name: diffusers
---

# {repo_id}

A {kind} in the 🤗 Diffusers format, uploaded with diffusekit.
"""


@dataclass(frozen=True)
class PushOptions:
    repo_id: str
    commit_message: str | None = None
    private: bool | None = None
    token: str | bool | None = None
    create_pr: bool = False

    @classmethod
    def pop_from(
        cls, kwargs: dict[str, Any], save_directory: str | os.PathLike[str]
    ) -> PushOptions:
        """Take the push options out of `kwargs`; the repo id defaults to the folder's name."""
        options = {name: kwargs.pop(name) for name in PUSH_OPTIONS if name in kwargs}
        options.setdefault("repo_id", Path(save_directory).resolve().name)
        return cls(**options)


def check_options(kwargs: dict[str, Any], where: str) -> None:
    """Refuse extra keyword arguments other than the push options (for savers that accept
    nothing else)."""
    unknown = sorted(set(kwargs) - set(PUSH_OPTIONS))
    if unknown:
        raise TypeError(
            f"{where}: unexpected arguments {unknown}; besides its own, it takes the push "
            f"options {list(PUSH_OPTIONS)} (used with push_to_hub=True)"
        )


def push_saved_folder(
    save_directory: str | os.PathLike[str], kwargs: dict[str, Any], *, kind: str, message: str
) -> str:
    """Upload `save_directory`, where a `kind` ("pipeline", "model", "scheduler") was just saved.

    `message` is the default commit message. Returns the URL of the commit, or of the pull
    request with ``create_pr=True``.
    """
    options = PushOptions.pop_from(kwargs, save_directory)
    folder = Path(save_directory)
    _write_model_card(folder, options.repo_id, kind)
    try:
        from huggingface_hub import HfApi

        api = HfApi(token=options.token)
        repo_id = api.create_repo(options.repo_id, private=options.private, exist_ok=True).repo_id
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            commit_message=options.commit_message or message,
            create_pr=options.create_pr,
        )
    except Exception as exc:
        raise CheckpointError(
            f"save_pretrained(push_to_hub=True): the checkpoint was saved to {folder}, but "
            f"uploading it to the Hub repo {options.repo_id!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return commit.pr_url if options.create_pr and commit.pr_url else commit.commit_url


def _write_model_card(folder: Path, repo_id: str, kind: str) -> None:
    card = folder / "README.md"
    if not card.exists():
        card.write_text(MODEL_CARD.format(repo_id=repo_id, kind=kind), encoding="utf-8")
