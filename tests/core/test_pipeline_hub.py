"""`from_pretrained` by repo id against a real local Hub server (huggingface_hub's own client):
which files are fetched, variants, passed-in components, the cache and offline mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from diffusekit.errors import CheckpointError, RemoteCodeError
from diffusekit.pipeline import DiffusionPipeline
from diffusekit.testing.hub_server import HubRequest, HubServer

from ._toy_components import (
    ToyModel,
    ToyPipeline,
    ToyUnetOnlyPipeline,
    assert_same_weights,
    make_toy_pipeline,
)

REPO = "toy-org/toy-pipeline"
CONFIGS = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "safety_checker/config.json",
]


pytestmark = pytest.mark.usefixtures("toy_components")


@pytest.fixture
def saved(tmp_path: Path) -> dict[str, ToyPipeline]:
    """A repo folder: plain weights everywhere, an fp16 unet, and a .bin and .msgpack beside."""
    plain = make_toy_pipeline(0)
    plain.safety_checker = ToyModel(width=4)
    plain.save_pretrained(tmp_path / "repo")
    half = make_toy_pipeline(1)
    half.unet.to(torch.float16)
    half.unet.save_pretrained(tmp_path / "repo" / "unet", variant="fp16")
    pickled = make_toy_pipeline(2)
    torch.save(pickled.unet.state_dict(), tmp_path / "repo/unet/diffusion_pytorch_model.bin")
    (tmp_path / "repo/unet/diffusion_pytorch_model.msgpack").write_bytes(b"flax weights")
    (tmp_path / "repo/unet/diffusion_pytorch_model.onnx").write_bytes(b"onnx graph")
    (tmp_path / "repo/README.md").write_text("# toy")
    return {"plain": plain, "fp16": half, "bin": pickled}


@pytest.fixture
def repo(hub_server: HubServer, saved: dict[str, ToyPipeline], tmp_path: Path) -> str:
    commit = hub_server.add_repo(REPO, tmp_path / "repo")
    hub_server.clear()
    return commit


def fetched(hub_server: HubServer) -> list[str]:
    return sorted(hub_server.file_requests("GET"))


def test_fetches_only_the_files_the_load_needs(
    hub_server: HubServer, repo: str, saved: dict[str, ToyPipeline]
) -> None:
    pipe = DiffusionPipeline.from_pretrained(REPO)
    assert_same_weights(saved["plain"].unet, pipe.unet)
    assert_same_weights(saved["plain"].safety_checker, pipe.safety_checker)
    assert pipe.tokenizer.vocab == {"a": 0, "b": 1}
    assert fetched(hub_server) == sorted(
        [
            *CONFIGS,
            "unet/diffusion_pytorch_model.safetensors",
            "safety_checker/diffusion_pytorch_model.safetensors",
        ]
    )
    listings = [r for r in hub_server.requests if r.path.startswith("/api/")]
    assert listings == [HubRequest("GET", f"/api/models/{REPO}")]
    assert all(f"/resolve/{repo}/" in path for path in [r.path for r in hub_server.requests[1:]])
    assert pipe.config["_name_or_path"] == REPO


def test_variant_fetches_the_variant_where_it_exists(
    hub_server: HubServer, repo: str, saved: dict[str, ToyPipeline]
) -> None:
    pipe = DiffusionPipeline.from_pretrained(REPO, variant="fp16", dtype={"unet": torch.float16})
    assert fetched(hub_server) == sorted(
        [
            *CONFIGS,
            "unet/diffusion_pytorch_model.fp16.safetensors",
            "safety_checker/diffusion_pytorch_model.safetensors",
        ]
    )
    assert_same_weights(saved["fp16"].unet, pipe.unet)
    assert_same_weights(saved["plain"].safety_checker, pipe.safety_checker)


def test_pickles_only_when_asked(
    hub_server: HubServer, repo: str, saved: dict[str, ToyPipeline]
) -> None:
    pipe = DiffusionPipeline.from_pretrained(REPO, use_safetensors=False)
    assert_same_weights(saved["bin"].unet, pipe.unet)
    assert "unet/diffusion_pytorch_model.bin" in fetched(hub_server)
    assert "unet/diffusion_pytorch_model.safetensors" not in fetched(hub_server)


def test_passed_in_components_are_not_fetched(hub_server: HubServer, repo: str) -> None:
    unet = ToyModel(width=4, depth=2)
    pipe = DiffusionPipeline.from_pretrained(REPO, unet=unet, safety_checker=None)
    assert pipe.unet is unet and pipe.safety_checker is None
    assert fetched(hub_server) == [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "tokenizer/vocab.json",
    ]


def test_a_concrete_class_fetches_only_the_folders_it_takes(
    hub_server: HubServer, repo: str
) -> None:
    pipe = ToyUnetOnlyPipeline.from_pretrained(REPO)
    assert list(pipe.components) == ["unet", "scheduler"]
    assert fetched(hub_server) == [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
    ]


def test_second_load_only_lists(hub_server: HubServer, repo: str) -> None:
    DiffusionPipeline.from_pretrained(REPO)
    hub_server.clear()
    DiffusionPipeline.from_pretrained(REPO)
    assert hub_server.requests == [HubRequest("GET", f"/api/models/{REPO}")]


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "local_files_only"])
def test_offline_loads_from_the_cache_without_requests(
    hub_server: HubServer,
    repo: str,
    saved: dict[str, ToyPipeline],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    DiffusionPipeline.from_pretrained(REPO, variant="fp16")
    hub_server.clear()
    kwargs: dict[str, Any] = {"variant": "fp16"}
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        kwargs["local_files_only"] = True
    pipe = DiffusionPipeline.from_pretrained(REPO, **kwargs)
    assert_same_weights(saved["fp16"].unet, pipe.unet)
    assert hub_server.requests == []


def test_offline_with_nothing_cached_says_so(
    hub_server: HubServer, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="nothing cached for revision 'main'"):
        DiffusionPipeline.from_pretrained(REPO)
    assert hub_server.requests == []


def test_revision(hub_server: HubServer, repo: str, tmp_path: Path) -> None:
    other = make_toy_pipeline(7)
    other.save_pretrained(tmp_path / "v1")
    hub_server.add_repo(REPO, tmp_path / "v1", revision="v1")
    pipe = DiffusionPipeline.from_pretrained(REPO, revision="v1")
    assert_same_weights(other.unet, pipe.unet)
    assert pipe.safety_checker is None


def test_repo_without_model_index(hub_server: HubServer, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "config.json").write_text("{}")
    hub_server.add_repo("toy-org/not-a-pipeline", tmp_path / "plain")
    with pytest.raises(CheckpointError, match="not-a-pipeline: the repository has no model_index"):
        DiffusionPipeline.from_pretrained("toy-org/not-a-pipeline")


REMOTE_PIPELINE = """
from diffusekit.pipeline import DiffusionPipeline


class HubPipeline(DiffusionPipeline):
    def __init__(self, unet, scheduler):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)
"""


def test_checkpoint_code_from_the_hub_runs_only_when_trusted(
    hub_server: HubServer, tmp_path: Path
) -> None:
    folder = tmp_path / "remote"
    make_toy_pipeline().save_pretrained(folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["_class_name"] = ["pipeline", "HubPipeline"]
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "pipeline.py").write_text(REMOTE_PIPELINE)
    hub_server.add_repo("toy-org/remote", folder)
    with pytest.raises(RemoteCodeError, match="pass trust_remote_code=True"):
        DiffusionPipeline.from_pretrained("toy-org/remote")
    assert "pipeline.py" not in hub_server.file_requests("GET")
    pipe = DiffusionPipeline.from_pretrained("toy-org/remote", trust_remote_code=True)
    assert type(pipe).__name__ == "HubPipeline"
    assert "pipeline.py" in hub_server.file_requests("GET")
    assert hub_server.cache_dir is not None
    (code,) = hub_server.cache_dir.glob("models--toy-org--remote/snapshots/*/pipeline.py")
    assert code.is_symlink()  # into the blob store, outside the snapshot: still accepted
