"""Environment variables (and the user's plugins.json) that steer plugin loading, in one place.

A distribution is blocked, and none of its modules is ever imported, when it is named in
``DIFFUSEKIT_DISABLE_PLUGINS``, disabled with ``diffusekit plugins disable`` (plugins.json), or
left out of ``DIFFUSEKIT_LOAD_PLUGINS`` when that allow-list is set (empty: no plugin at all,
the safe mode ``diffusekit --no-plugins`` uses).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

PREFER_VAR = "DIFFUSEKIT_PREFER"
DISABLE_VAR = "DIFFUSEKIT_DISABLE_PLUGINS"
STRICT_VAR = "DIFFUSEKIT_STRICT_PLUGINS"
LOAD_VAR = "DIFFUSEKIT_LOAD_PLUGINS"


def normalize_dist_name(name: str) -> str:
    """Distribution names compare as PEP 503 says: case-folded, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _names(value: str) -> frozenset[str]:
    return frozenset(normalize_dist_name(d) for d in _split_list(value))


@dataclass(frozen=True)
class PluginSettings:
    blocked: frozenset[str]
    prefer: dict[str, str]
    strict: bool
    #: The only distributions that may load (None: all); from DIFFUSEKIT_LOAD_PLUGINS.
    allowed: frozenset[str] | None = None
    #: Disabled persistently with `diffusekit plugins disable` (plugins.json).
    disabled_by_user: frozenset[str] = frozenset()

    def is_blocked(self, key: str) -> bool:
        """Whether the distribution with normalized name `key` must not be imported."""
        return self.why_blocked(key) is not None

    def why_blocked(self, key: str) -> str | None:
        """What blocks distribution `key`, phrased as what to change; None if nothing does."""
        if key in self.blocked:
            return f"remove it from {DISABLE_VAR}"
        if key in self.disabled_by_user:
            return f"run `diffusekit plugins enable {key}`"
        if self.allowed is not None and key not in self.allowed:
            return f"add it to {LOAD_VAR} (or drop --no-plugins / add --plugin {key})"
        return None

    @classmethod
    def from_environ(cls) -> PluginSettings:
        from ._user_config import disabled_plugins

        blocked = _names(os.environ.get(DISABLE_VAR, ""))
        load = os.environ.get(LOAD_VAR)
        allowed = None if load is None else _names(load)
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
        return cls(
            blocked=blocked,
            prefer=prefer,
            strict=strict,
            allowed=allowed,
            disabled_by_user=frozenset(normalize_dist_name(d) for d in disabled_plugins()),
        )
