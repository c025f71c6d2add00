"""Import every entry point of one distribution and check it is the right kind."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import registry
from .._settings import normalize_dist_name
from ..errors import PluginError


@dataclass
class PluginCheck:
    distribution: str
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_distribution(dist_name: str) -> PluginCheck:
    """Load each entry point `dist_name` declares; collect conflicts and failures, not raise."""
    found = registry.discovery()
    key = normalize_dist_name(dist_name)
    result = PluginCheck(dist_name)
    if key not in found.distributions:
        result.problems.append(
            f"distribution {dist_name!r} is not installed or has no diffusekit entry points"
        )
        return result
    for group, names in sorted(found.entries.items()):
        for name, claims in sorted(names.items()):
            for entry in claims:
                if entry.dist.key != key:
                    continue
                result.checked.append(f"{group}:{name}")
                try:
                    chosen = registry.select(group, name)
                    if chosen is not None and chosen.dist.key != key:
                        result.problems.append(f"{name}: served by {chosen.dist}, not {dist_name}")
                    registry.load_entry(entry)
                except PluginError as exc:
                    result.problems.append(f"{name}: {exc}")
    return result


def assert_plugin_ok(dist_name: str) -> PluginCheck:
    """Fail with every problem listed if any entry point of `dist_name` is broken or contested."""
    result = check_distribution(dist_name)
    if not result.ok:
        details = "\n  ".join(result.problems)
        raise AssertionError(f"plugin distribution {dist_name} has problems:\n  {details}")
    if not result.checked:
        raise AssertionError(f"plugin distribution {dist_name} declares no diffusekit entry points")
    return result
