"""Environment variables that steer plugin loading, parsed in one place."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

PREFER_VAR = "DIFFUSEKIT_PREFER"
DISABLE_VAR = "DIFFUSEKIT_DISABLE_PLUGINS"
STRICT_VAR = "DIFFUSEKIT_STRICT_PLUGINS"


def normalize_dist_name(name: str) -> str:
    """Distribution names compare as PEP 503 says: case-folded, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class PluginSettings:
    blocked: frozenset[str]
    prefer: dict[str, str]
    strict: bool

    @classmethod
    def from_environ(cls) -> PluginSettings:
        blocked = frozenset(
            normalize_dist_name(d) for d in _split_list(os.environ.get(DISABLE_VAR, ""))
        )
        prefer: dict[str, str] = {}
        for item in _split_list(os.environ.get(PREFER_VAR, "")):
            name, sep, dist = item.partition("=")
            if not sep or not name.strip() or not dist.strip():
                from .errors import PluginError

                raise PluginError(
                    f"{PREFER_VAR}: expected comma-separated 'entry.name=distribution' pairs, "
                    f"found {item!r}"
                )
            prefer[name.strip()] = normalize_dist_name(dist.strip())
        strict = os.environ.get(STRICT_VAR, "").strip().lower() in {"1", "true", "yes", "on"}
        return cls(blocked=blocked, prefer=prefer, strict=strict)
