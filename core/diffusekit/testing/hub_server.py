"""A local stand-in for the Hugging Face Hub, for tests that load checkpoints by repo id.

`HubServer` is a real HTTP server on 127.0.0.1 (an ephemeral port, one thread per request)
that serves folders in the Hub's URL layout, so huggingface_hub's own client code runs
unchanged against it:

- ``GET /api/models/{repo_id}[/revision/{revision}]``: model info with ``sha`` and ``siblings``.
- ``HEAD|GET /{repo_id}/resolve/{revision}/{path}``: a file, with the ``X-Repo-Commit``,
  ``ETag`` and ``Content-Length`` headers `hf_hub_download` checks. No ``X-Xet-*`` header is
  ever sent, so downloads take the plain HTTP path.
- Errors carry the ``X-Error-Code`` huggingface_hub maps to its exceptions: ``RepoNotFound``
  (unknown repo, or a private repo without its token), ``GatedRepo`` (a gated repo's files
  without the token), ``RevisionNotFound`` and ``EntryNotFound``.

Every request is recorded (method and raw path) in `HubServer.requests`, so a test can assert
exactly which files were fetched. `HubServer.configure_client` points huggingface_hub at the
server and at a cache folder; the ``hub_server`` pytest fixture does both for each test.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

_API_PREFIX = "/api/models/"
_RESOLVE = re.compile(r"^/(?P<repo>.+?)/resolve/(?P<revision>[^/]+)/(?P<path>.+)$")


class HubRequest(NamedTuple):
    """One request the server received: the method and the URL path as sent (no query)."""

    method: str
    path: str


@dataclass
class _Repo:
    refs: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    token: str | None = None
    gated: bool = False

    def commit_of(self, revision: str) -> str | None:
        if revision in self.refs:
            return self.refs[revision]
        return revision if revision in self.commits else None

    def authorized(self, authorization: str | None) -> bool:
        return self.token is None or authorization == f"Bearer {self.token}"


class HubServer:
    """Serves repositories from local folders at `endpoint`, in the Hub's URL layout.

    Use it as a context manager (or call `start` and `stop`). `add_repo` snapshots a folder
    into an immutable commit, so later changes to the folder do not change what is served.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._repos: dict[str, _Repo] = {}
        self._lock = threading.Lock()
        self.requests: list[HubRequest] = []
        self.cache_dir: Path | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> HubServer:
        if self._httpd is not None:
            return self
        httpd = ThreadingHTTPServer((self._host, 0), _Handler)
        httpd.daemon_threads = True
        httpd.hub = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="hub-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        if self._httpd is None:
            raise RuntimeError("HubServer is not running: call start() or use it in a with block")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------------------- content

    def add_repo(
        self,
        repo_id: str,
        folder: str | Path,
        revision: str = "main",
        *,
        token: str | None = None,
        gated: bool = False,
    ) -> str:
        """Serve the files under `folder` as `repo_id` at `revision`; return the commit hash.

        `revision` is a branch or tag name; adding again to the same name moves it to the new
        commit. With `token`, requests must send ``Authorization: Bearer <token>``: a private
        repo (the default) hides everything without it, a gated one (`gated=True`) shows its
        listing but refuses its files.
        """
        files = _read_folder(Path(folder))
        commit = _commit_hash(files)
        with self._lock:
            repo = self._repos.setdefault(repo_id, _Repo())
            repo.commits[commit] = files
            repo.refs[revision] = commit
            if token is not None or gated:
                repo.token, repo.gated = token, gated
        return commit

    def clear(self) -> None:
        """Forget the recorded requests (the repositories stay)."""
        with self._lock:
            self.requests.clear()

    def file_requests(self, method: str = "GET", repo_id: str | None = None) -> list[str]:
        """Repo-relative paths of the files asked for with `method`, in request order."""
        paths = []
        for request in list(self.requests):
            match = _RESOLVE.match(request.path)
            if request.method != method or match is None:
                continue
            if repo_id is None or unquote(match["repo"]) == repo_id:
                paths.append(unquote(match["path"]))
        return paths

    # -------------------------------------------------------------------------------- client

    def configure_client(self, patch: Any, cache_dir: str | Path) -> None:
        """Point huggingface_hub at this server, with `cache_dir` as its cache.

        `patch` is a `pytest.MonkeyPatch` (outside pytest: ``pytest.MonkeyPatch.context()``),
        so everything is restored afterwards. huggingface_hub reads its environment once, at
        import, so its `constants` are patched as well as the variables. Offline mode is turned
        off, and telemetry too (it would otherwise ask the endpoint for an agent registry).
        """
        from huggingface_hub import constants

        endpoint = self.endpoint
        self.cache_dir = Path(cache_dir)
        values: dict[str, tuple[str, Any]] = {
            "ENDPOINT": ("HF_ENDPOINT", endpoint),
            "HF_HUB_CACHE": ("HF_HUB_CACHE", str(cache_dir)),
            "HF_HUB_DISABLE_TELEMETRY": ("HF_HUB_DISABLE_TELEMETRY", True),
            "HF_HUB_DISABLE_XET": ("HF_HUB_DISABLE_XET", True),
        }
        for attribute, (variable, value) in values.items():
            patch.setattr(constants, attribute, value)
            patch.setenv(variable, "1" if value is True else value)
        patch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        )
        patch.setattr(constants, "HF_HUB_OFFLINE", False)
        patch.delenv("HF_HUB_OFFLINE", raising=False)
        patch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    # ----------------------------------------------------------------------------- internals

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append(HubRequest(method, path))

    def _repo(self, repo_id: str) -> _Repo | None:
        with self._lock:
            return self._repos.get(repo_id)


class _Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def _error(status: int, code: str | None, message: str, **headers: str) -> _Reply:
    error_headers = {"X-Error-Message": message, "Content-Type": "application/json", **headers}
    if code is not None:
        error_headers["X-Error-Code"] = code
    return _Reply(status, error_headers, json.dumps({"error": message}).encode())


def _repo_not_found(repo_id: str, status: int = 404) -> _Reply:
    return _error(status, "RepoNotFound", f"Repository not found: {repo_id}")


def _model_info(hub: HubServer, raw: str, authorization: str | None) -> _Reply:
    repo_part, _, revision_part = raw.partition("/revision/")
    repo_id = unquote(repo_part)
    revision = unquote(revision_part) if revision_part else "main"
    repo = hub._repo(repo_id)
    if repo is None:
        return _repo_not_found(repo_id)
    if not repo.gated and not repo.authorized(authorization):
        return _repo_not_found(repo_id, 401)
    commit = repo.commit_of(revision)
    if commit is None:
        return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
    info = {
        "id": repo_id,
        "modelId": repo_id,
        "sha": commit,
        "private": repo.token is not None and not repo.gated,
        "gated": "manual" if repo.gated else False,
        "disabled": False,
        "siblings": [{"rfilename": name} for name in sorted(repo.commits[commit])],
    }
    return _Reply(200, {"Content-Type": "application/json"}, json.dumps(info).encode())


def _resolve(hub: HubServer, match: re.Match[str], authorization: str | None) -> _Reply:
    repo_id, revision, path = (unquote(match[name]) for name in ("repo", "revision", "path"))
    repo = hub._repo(repo_id)
    if repo is None:
        return _repo_not_found(repo_id)
    if not repo.authorized(authorization):
        if repo.gated:
            return _error(401, "GatedRepo", f"Access to model {repo_id} is restricted")
        return _repo_not_found(repo_id, 401)
    commit = repo.commit_of(revision)
    if commit is None:
        return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
    content = repo.commits[commit].get(path)
    if content is None:
        return _error(404, "EntryNotFound", f"{path} does not exist", **{"X-Repo-Commit": commit})
    headers = {
        "Content-Type": "application/octet-stream",
        "ETag": f'"{_blob_hash(content)}"',
        "X-Repo-Commit": commit,
    }
    return _Reply(200, headers, content)


class _Handler(BaseHTTPRequestHandler):
    server_version = "diffusekit-hub-server"

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, *, send_body: bool) -> None:
        hub: HubServer = self.server.hub  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        hub._record(self.command, path)
        authorization = self.headers.get("Authorization")
        match = _RESOLVE.match(path)
        if path.startswith(_API_PREFIX) and self.command == "GET":
            reply = _model_info(hub, path[len(_API_PREFIX) :], authorization)
        elif match is not None:
            reply = _resolve(hub, match, authorization)
        else:
            reply = _error(404, None, f"no route for {self.command} {path}")
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are recorded in `HubServer.requests`; nothing is printed."""


def _read_folder(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: expected a folder of repository files")
    files = {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    if not files:
        raise ValueError(f"{folder}: the folder holds no files to serve")
    return files


def _blob_hash(content: bytes) -> str:
    """The git blob id of `content`, which is what the Hub sends as ETag for non-LFS files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _commit_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha1()
    for name, content in sorted(files.items()):
        digest.update(f"{name}\0{_blob_hash(content)}\n".encode())
    return digest.hexdigest()
