"""``save_pretrained(push_to_hub=True)`` uploads the saved folder (huggingface_hub mocked)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import huggingface_hub
import pytest

from diffusekit.errors import CheckpointError

from ._toy_components import ToyModel, ToyScheduler, make_toy_pipeline

pytestmark = pytest.mark.usefixtures("toy_components")


class FakeHub:
    """Records what HfApi is asked to do; the upload sees the folder as it is at that moment."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.tokens: list[Any] = []
        self.repos: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []

    def api(self, token: Any = None) -> FakeHub:
        self.tokens.append(token)
        return self

    def create_repo(self, repo_id: str, **options: Any) -> SimpleNamespace:
        if self.fail is not None:
            raise self.fail
        self.repos.append({"repo_id": repo_id, **options})
        return SimpleNamespace(repo_id=f"someone/{repo_id}" if "/" not in repo_id else repo_id)

    def upload_folder(self, **options: Any) -> SimpleNamespace:
        folder = Path(options["folder_path"])
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        self.uploads.append({**options, "files": files})
        return SimpleNamespace(commit_url="https://hub/commit/1", pr_url="https://hub/pr/2")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    fake = FakeHub()
    monkeypatch.setattr(huggingface_hub, "HfApi", fake.api)
    return fake


def test_a_pipeline_is_saved_then_uploaded_to_a_repo_named_after_the_folder(
    tmp_path: Path, hub: FakeHub
) -> None:
    make_toy_pipeline().save_pretrained(tmp_path / "my-pipe", push_to_hub=True)
    assert hub.repos == [{"repo_id": "my-pipe", "private": None, "exist_ok": True}]
    (upload,) = hub.uploads
    assert upload["repo_id"] == "someone/my-pipe"
    assert upload["commit_message"] == "Upload ToyPipeline"
    assert upload["create_pr"] is False
    assert "model_index.json" in upload["files"] and "unet/config.json" in upload["files"]
    card = (tmp_path / "my-pipe" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: diffusers\n---") and "pipeline" in card


def test_the_reference_s_push_options_are_passed_on(tmp_path: Path, hub: FakeHub) -> None:
    model = ToyModel(width=2)
    model.save_pretrained(
        tmp_path / "m", push_to_hub=True, repo_id="org/repo", commit_message="weights v2",
        private=True, token="hf_x", create_pr=True,
    )  # fmt: skip
    assert hub.tokens == ["hf_x"]
    assert hub.repos == [{"repo_id": "org/repo", "private": True, "exist_ok": True}]
    (upload,) = hub.uploads
    assert upload["repo_id"] == "org/repo" and upload["commit_message"] == "weights v2"
    assert upload["create_pr"] is True
    assert "config.json" in upload["files"] and "model.safetensors" not in upload["files"]
    assert "diffusion_pytorch_model.safetensors" in upload["files"]


def test_a_scheduler_uploads_its_config(tmp_path: Path, hub: FakeHub) -> None:
    ToyScheduler().save_pretrained(tmp_path / "sched", push_to_hub=True)
    (upload,) = hub.uploads
    assert upload["commit_message"] == "Upload scheduler"
    assert upload["files"] == ["README.md", "scheduler_config.json"]


def test_an_existing_model_card_is_kept(tmp_path: Path, hub: FakeHub) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "README.md").write_text("my card")
    ToyModel().save_pretrained(folder, push_to_hub=True)
    assert (folder / "README.md").read_text() == "my card"


def test_without_push_to_hub_nothing_is_uploaded(tmp_path: Path, hub: FakeHub) -> None:
    ToyModel().save_pretrained(tmp_path / "m", repo_id="org/repo")
    make_toy_pipeline().save_pretrained(tmp_path / "p")
    assert hub.repos == [] and hub.uploads == []
    assert not (tmp_path / "m" / "README.md").exists()


def test_a_failed_upload_names_the_repo_and_keeps_the_saved_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeHub(fail=ConnectionError("no route to host"))
    monkeypatch.setattr(huggingface_hub, "HfApi", fake.api)
    with pytest.raises(CheckpointError, match=r"saved to .*'org/repo' failed: ConnectionError"):
        ToyModel().save_pretrained(tmp_path / "m", push_to_hub=True, repo_id="org/repo")
    assert (tmp_path / "m" / "config.json").is_file()


def test_a_model_refuses_unknown_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"unexpected arguments \['repo'\]"):
        ToyModel().save_pretrained(tmp_path / "m", repo="org/repo")
    assert not (tmp_path / "m").exists()
