"""pytest fixtures for plugin authors, registered through the ``pytest11`` entry point.

- ``diffusekit_registry``: the test runs with its own registrations and a fresh discovery;
  both are restored afterwards.
- ``fake_distribution``: a factory that "installs" a distribution with entry points and
  modules into a temporary folder on ``sys.path`` and refreshes discovery.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def diffusekit_registry() -> Iterator[Any]:
    from diffusekit import registry

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
