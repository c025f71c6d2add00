"""Scan installed distributions for diffusekit entry points, reading metadata only.

No plugin module is imported here. Each distribution's ``entry_points.txt`` is read as text and
only our groups are parsed, so a machine with a thousand distributions is scanned quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._settings import PluginSettings, normalize_dist_name

COMPONENTS = "diffusekit.components"
LIBRARIES = "diffusekit.libraries"
PLUGINS = "diffusekit.plugins"
TASKS = "diffusekit.tasks"
GROUPS = (COMPONENTS, LIBRARIES, PLUGINS, TASKS)


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    location: str

    @property
    def key(self) -> str:
        return normalize_dist_name(self.name)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class EntryPoint:
    """One `name = module:attr` line of one group, claimed by one distribution."""

    group: str
    name: str
    value: str
    dist: Distribution

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    @property
    def attr(self) -> str:
        return self.value.partition(":")[2].strip()


@dataclass
class Discovery:
    """What the installed metadata says, before anything is imported."""

    settings: PluginSettings
    entries: dict[str, dict[str, list[EntryPoint]]] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    shadowed: dict[str, list[Distribution]] = field(default_factory=dict)

    def claims(self, group: str, name: str) -> list[EntryPoint]:
        return self.entries.get(group, {}).get(name, [])

    def is_blocked(self, dist: Distribution) -> bool:
        return self.settings.is_blocked(dist.key)


def parse_entry_points(text: str) -> dict[str, dict[str, str]]:
    """Parse the INI-style ``entry_points.txt``, keeping only diffusekit's groups."""
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            current = groups.setdefault(group, {}) if group in GROUPS else None
            continue
        if current is not None:
            name, sep, value = line.partition("=")
            if sep:
                current[name.strip()] = value.strip()
    return groups


def _name_and_version(dist: object) -> tuple[str, str]:
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""  # type: ignore[attr-defined]
    name = version = ""
    for line in text.splitlines():
        if not line:
            break
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
    return name or "<unknown>", version or "0"


def discover(settings: PluginSettings) -> Discovery:
    from importlib import metadata

    found = Discovery(settings=settings)
    for dist in metadata.distributions():
        text = dist.read_text("entry_points.txt")
        if not text or "diffusekit." not in text:
            continue
        groups = parse_entry_points(text)
        if not groups:
            continue
        name, version = _name_and_version(dist)
        record = Distribution(name, version, str(dist.locate_file("")))
        if record.key in found.distributions:
            # A second copy of one distribution (two path entries, or the metadata an editable
            # install leaves behind): the first on sys.path is the one Python imports.
            found.shadowed.setdefault(record.key, []).append(record)
            continue
        found.distributions[record.key] = record
        for group, items in groups.items():
            bucket = found.entries.setdefault(group, {})
            for entry_name, value in items.items():
                bucket.setdefault(entry_name, []).append(
                    EntryPoint(group, entry_name, value, record)
                )
    return found
