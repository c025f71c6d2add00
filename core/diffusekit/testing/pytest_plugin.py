"""pytest fixtures for plugin authors, registered through the ``pytest11`` entry point.

- ``diffusekit_registry``: the test runs with its own registrations and a fresh discovery;
  both are restored afterwards.
- ``fake_distribution``: a factory that "installs" a distribution with entry points and
  modules into a temporary folder on ``sys.path`` and refreshes discovery.
- ``hub_server``: a local Hub (`diffusekit.testing.hub_server.HubServer`) that huggingface_hub
  talks to for the test, with an empty cache folder.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def diffusekit_registry(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The registry, isolated from registrations and from the user's ``plugins.json``."""
    from diffusekit import registry
    from diffusekit._user_config import CONFIG_DIR_VAR

    monkeypatch.setenv(CONFIG_DIR_VAR, str(tmp_path_factory.mktemp("diffusekit-config")))
    with registry.isolated():
        yield registry


@pytest.fixture
def fake_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, diffusekit_registry: Any
) -> Iterator[Callable[..., Any]]:
    from diffusekit.testing import write_fake_distribution

    roots: list[Path] = []
    added_modules: set[str] = set()

    def install(name: str, *, path_entry: str | None = None, **kwargs: Any) -> Any:
        root = tmp_path / "site" / (path_entry or name)
        root.mkdir(parents=True, exist_ok=True)
        dist = write_fake_distribution(root, name, **kwargs)
        if root not in roots:
            roots.append(root)
            monkeypatch.syspath_prepend(str(root))
        for relative in kwargs.get("modules") or {}:
            added_modules.add(relative.split("/")[0].removesuffix(".py"))
        importlib.invalidate_caches()
        diffusekit_registry.refresh()
        return dist

    yield install
    for module in list(sys.modules):
        if module.split(".")[0] in added_modules:
            del sys.modules[module]


@pytest.fixture
def hub_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A running `diffusekit.testing.hub_server.HubServer`, with huggingface_hub pointed at it
    and at an empty cache folder for this test (``hub_server.cache_dir``)."""
    from diffusekit.testing.hub_server import HubServer

    with HubServer() as server:
        server.configure_client(monkeypatch, tmp_path / "hub-cache")
        yield server
