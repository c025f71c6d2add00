"""Hub access against a real local HTTP server (the `hub_server` fixture): listing, downloads of
a subset pinned to one commit, the cache, offline mode and the errors users see."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import constants
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

from diffusekit import hub
from diffusekit.errors import CheckpointError
from diffusekit.testing.hub_server import HubRequest, HubServer

REPO = "tiny-org/tiny-pipe"
FILES = {
    "model_index.json": json.dumps({"_class_name": "TinyPipeline", "unet": ["x", "Y"]}),
    "unet/config.json": json.dumps({"sample_size": 8}),
    "unet/diffusion_pytorch_model.safetensors": "weights-A" * 50,
    "vae/config.json": json.dumps({"latent_channels": 4}),
}
SUBSET = ["model_index.json", "unet/config.json"]


def write_repo(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


@pytest.fixture
def repo(hub_server: HubServer, tmp_path: Path) -> str:
    commit = hub_server.add_repo(REPO, write_repo(tmp_path / "repo", FILES))
    hub_server.clear()
    return commit


def go_offline(monkeypatch: pytest.MonkeyPatch, how: str) -> hub.HubOptions:
    if how == "local_files_only":
        return hub.HubOptions(local_files_only=True)
    if how in {"env", "env+constant"}:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if how in {"constant", "env+constant"}:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return hub.HubOptions()


def snapshot_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------ server


def test_server_sends_the_headers_hf_hub_download_checks_and_no_xet(
    hub_server: HubServer, repo: str
) -> None:
    url = f"{hub_server.endpoint}/{REPO}/resolve/main/unet/config.json"
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as response:
        headers = {name.lower(): value for name, value in response.headers.items()}
    assert headers["x-repo-commit"] == repo
    assert headers["content-length"] == str(len(FILES["unet/config.json"]))
    assert headers["etag"].startswith('"') and len(headers["etag"]) == 42
    assert not [name for name in headers if name.startswith("x-xet")]
    assert hub_server.requests == [HubRequest("HEAD", f"/{REPO}/resolve/main/unet/config.json")]


# ----------------------------------------------------------------------------------- listing


def test_list_repo_is_one_request_with_commit_and_files(hub_server: HubServer, repo: str) -> None:
    listing = hub.list_repo(REPO)
    assert listing == hub.RepoListing(REPO, repo, tuple(sorted(FILES)), revision="main")
    assert not listing.cached
    assert hub_server.requests == [HubRequest("GET", f"/api/models/{REPO}")]


def test_list_repo_at_a_revision(hub_server: HubServer, repo: str, tmp_path: Path) -> None:
    v1 = hub_server.add_repo(REPO, write_repo(tmp_path / "v1", {"only.json": "{}"}), "v1")
    listing = hub.list_repo(REPO, hub.HubOptions(revision="v1"))
    assert (listing.commit, listing.files) == (v1, ("only.json",))
    assert v1 != repo
    assert hub_server.requests[-1] == HubRequest("GET", f"/api/models/{REPO}/revision/v1")


# --------------------------------------------------------------------------------- downloads


def test_download_fetches_exactly_the_requested_files(hub_server: HubServer, repo: str) -> None:
    listing = hub.list_repo(REPO)
    hub_server.clear()
    root = hub.download(listing, SUBSET)
    assert root == hub_server.cache_dir / "models--tiny-org--tiny-pipe" / "snapshots" / repo
    assert snapshot_files(root) == {name: FILES[name] for name in SUBSET}
    assert sorted(hub_server.file_requests("GET")) == sorted(SUBSET)
    assert sorted(hub_server.file_requests("HEAD")) == sorted(SUBSET)
    assert len(hub_server.requests) == 2 * len(SUBSET)
    assert all(f"/resolve/{repo}/" in r.path for r in hub_server.requests)


def test_second_download_is_served_from_the_cache(hub_server: HubServer, repo: str) -> None:
    listing = hub.list_repo(REPO)
    first = hub.download(listing, SUBSET)
    hub_server.clear()
    assert hub.download(listing, SUBSET) == first
    assert hub_server.requests == []
    hub.download(listing, [*SUBSET, "vae/config.json"])
    assert hub_server.file_requests("GET") == ["vae/config.json"]


def test_download_stays_on_the_listed_commit_when_the_branch_moves(
    hub_server: HubServer, repo: str, tmp_path: Path
) -> None:
    listing = hub.list_repo(REPO)
    moved = write_repo(tmp_path / "moved", {**FILES, "unet/config.json": '{"sample_size": 99}'})
    assert hub_server.add_repo(REPO, moved) != repo
    root = hub.download(listing, ["unet/config.json"])
    assert json.loads((root / "unet/config.json").read_text()) == {"sample_size": 8}
    assert hub.list_repo(REPO).commit != repo


def test_download_of_an_unlisted_file_fails_without_a_request(
    hub_server: HubServer, repo: str
) -> None:
    listing = hub.list_repo(REPO)
    hub_server.clear()
    with pytest.raises(CheckpointError, match=r"tiny-pipe: the repository has no file text_enc"):
        hub.download(listing, ["text_encoder/config.json"])
    assert hub_server.requests == []


# ----------------------------------------------------------------------------------- offline


@pytest.mark.parametrize("how", ["env", "constant", "env+constant", "local_files_only"])
def test_offline_lists_and_loads_from_the_cache_without_requests(
    hub_server: HubServer, repo: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    online_root = hub.download(hub.list_repo(REPO), SUBSET)
    hub_server.clear()
    options = go_offline(monkeypatch, how)
    listing = hub.list_repo(REPO, options)
    assert listing == hub.RepoListing(REPO, repo, tuple(sorted(SUBSET)), cached=True)
    assert hub.download(listing, SUBSET, options) == online_root
    index = hub.fetch_file(REPO, "model_index.json", options=options)
    assert index.read_text() == FILES["model_index.json"]
    assert hub_server.requests == []


@pytest.mark.parametrize("how", ["env", "local_files_only"])
def test_offline_with_nothing_cached_says_so(
    hub_server: HubServer, repo: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    options = go_offline(monkeypatch, how)
    with pytest.raises(CheckpointError, match=r"tiny-pipe: nothing cached for revision 'main'.*"):
        hub.list_repo(REPO, options)
    with pytest.raises(CheckpointError, match="not in the local cache and downloads are off"):
        hub.fetch_file(REPO, "model_index.json", options=options)
    assert hub_server.requests == []


def test_offline_download_of_an_uncached_file_names_it(
    hub_server: HubServer, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.download(hub.list_repo(REPO), SUBSET)
    options = go_offline(monkeypatch, "env")
    listing = hub.list_repo(REPO, options)
    with pytest.raises(CheckpointError, match=r"vae/config.json not in the local cache.*HF_HUB"):
        hub.download(listing, ["vae/config.json"], options)


def test_offline_revision_resolves_through_the_cached_ref(
    hub_server: HubServer, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = hub_server.add_repo(REPO, write_repo(tmp_path / "v1", {"only.json": "{}"}), "v1")
    hub.download(hub.list_repo(REPO, hub.HubOptions(revision="v1")), ["only.json"])
    hub.download(hub.list_repo(REPO), SUBSET)
    offline = hub.HubOptions(revision="v1", local_files_only=True)
    assert hub.list_repo(REPO, offline).commit == v1
    by_hash = hub.HubOptions(revision=repo, local_files_only=True)
    assert hub.list_repo(REPO, by_hash).files == tuple(sorted(SUBSET))


def test_unreachable_hub_falls_back_to_the_cache(hub_server: HubServer, repo: str) -> None:
    root = hub.download(hub.list_repo(REPO), SUBSET)
    hub_server.stop()
    listing = hub.list_repo(REPO)
    assert listing.cached and listing.commit == repo
    assert hub.download(listing, SUBSET) == root
    with pytest.raises(CheckpointError, match=r"vae/config.json not in the local cache.*reached"):
        hub.download(listing, ["vae/config.json"])
    with pytest.raises(
        CheckpointError, match=r"other/repo: nothing cached .* could not be reached"
    ):
        hub.list_repo("other/repo")


# ------------------------------------------------------------------------------------ errors


def test_unknown_repo(hub_server: HubServer, repo: str) -> None:
    with pytest.raises(CheckpointError, match=r"nobody/nothing: no such Hub repository.*token="):
        hub.list_repo("nobody/nothing")
    with pytest.raises(CheckpointError, match=r"nobody/nothing: no such Hub repository"):
        hub.fetch_file("nobody/nothing", "model_index.json")


@pytest.mark.parametrize("offline", [False, True])
def test_invalid_repo_id(hub_server: HubServer, offline: bool) -> None:
    options = hub.HubOptions(local_files_only=offline)
    with pytest.raises(CheckpointError, match="'not a//repo' is neither a local folder nor a"):
        hub.list_repo("not a//repo", options)
    assert hub_server.requests == []


def test_unknown_revision(hub_server: HubServer, repo: str) -> None:
    options = hub.HubOptions(revision="v404")
    with pytest.raises(CheckpointError, match=r"tiny-pipe: no revision 'v404' in the repository"):
        hub.list_repo(REPO, options)
    with pytest.raises(CheckpointError, match=r"tiny-pipe: no revision 'v404' in the repository"):
        hub.fetch_file(REPO, "model_index.json", options=options)


def test_private_repo_needs_its_token(hub_server: HubServer, tmp_path: Path) -> None:
    hub_server.add_repo("me/private", write_repo(tmp_path / "p", FILES), token="secret")
    with pytest.raises(CheckpointError, match=r"me/private: no such Hub repository.*token="):
        hub.list_repo("me/private", hub.HubOptions(token="wrong"))
    options = hub.HubOptions(token="secret")
    root = hub.download(hub.list_repo("me/private", options), SUBSET, options)
    assert snapshot_files(root) == {name: FILES[name] for name in SUBSET}


def test_gated_repo_lists_but_refuses_files(hub_server: HubServer, tmp_path: Path) -> None:
    hub_server.add_repo("org/gated", write_repo(tmp_path / "g", FILES), token="ok", gated=True)
    listing = hub.list_repo("org/gated", hub.HubOptions(token="nope"))
    assert listing.files == tuple(sorted(FILES))
    with pytest.raises(CheckpointError, match=r"org/gated: the repository is gated.*token="):
        hub.download(listing, SUBSET, hub.HubOptions(token="nope"))
    options = hub.HubOptions(token="ok")
    assert hub.download(listing, ["vae/config.json"], options).is_dir()


# -------------------------------------------------------------------------------- fetch_file


def test_fetch_file_downloads_one_file(hub_server: HubServer, repo: str) -> None:
    path = hub.fetch_file(REPO, "config.json", subfolder="unet")
    assert path.read_text() == FILES["unet/config.json"]
    assert hub_server.file_requests("GET") == ["unet/config.json"]
    assert hub_server.requests[0] == HubRequest("HEAD", f"/{REPO}/resolve/main/unet/config.json")


def test_fetch_file_missing_keeps_the_cause_weights_lookup_relies_on(
    hub_server: HubServer, repo: str
) -> None:
    with pytest.raises(CheckpointError, match=r"tiny-pipe: the repository has no file unet/x.bin"):
        hub.fetch_file(REPO, "x.bin", subfolder="unet")
    with pytest.raises(CheckpointError) as offline:
        hub.fetch_file(REPO, "x.bin", options=hub.HubOptions(local_files_only=True))
    assert isinstance(offline.value.__context__, LocalEntryNotFoundError)
    assert isinstance(offline.value.__context__, EntryNotFoundError)


def test_fetch_file_from_a_folder_needs_no_server(tmp_path: Path) -> None:
    folder = write_repo(tmp_path / "local", FILES)
    assert hub.fetch_file(folder, "config.json", subfolder="vae") == folder / "vae/config.json"
    with pytest.raises(CheckpointError, match="file not found in checkpoint folder"):
        hub.fetch_file(folder, "missing.json")
