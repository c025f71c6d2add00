"""The installed plugin set as pip requirements (``diffusekit plugins list --requirements``).

One line per distribution that declares diffusekit entry points, plus the core, pinned to the
installed version (``name==version``). An editable install (PEP 660 ``direct_url.json``) is
written as ``-e <folder>``, as ``pip freeze`` does, since its version is not on an index.
Disabled plugins stay in the list, marked with a comment, so restoring the file gives the same
installation and the same choices remain to be made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import unquote, urlparse

CORE = "diffusekit"


@dataclass(frozen=True)
class Requirement:
    name: str
    version: str
    editable_path: str | None
    enabled: bool

    def line(self) -> str:
        text = f"-e {self.editable_path}" if self.editable_path else f"{self.name}=={self.version}"
        return text if self.enabled else f"{text}  # disabled"

    def as_dict(self) -> dict[str, object]:
        return {
            "distribution": self.name,
            "version": self.version,
            "editable": self.editable_path,
            "enabled": self.enabled,
            "requirement": self.line().split("  #")[0],
        }


def _editable_path(name: str) -> str | None:
    try:
        text = metadata.distribution(name).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    data = json.loads(text)
    if not data.get("dir_info", {}).get("editable"):
        return None
    url = urlparse(data.get("url", ""))
    return unquote(url.path) if url.scheme == "file" else None


def installed() -> list[Requirement]:
    """The core, then each plugin distribution by name."""
    from .. import registry

    found = registry.discovery()
    rows = []
    core_version = metadata.version(CORE)
    rows.append(Requirement(CORE, core_version, _editable_path(CORE), True))
    for key, dist in sorted(found.distributions.items()):
        if key == CORE:
            continue
        enabled = found.settings.why_blocked(key) is None
        rows.append(Requirement(dist.name, dist.version, _editable_path(dist.name), enabled))
    return rows
