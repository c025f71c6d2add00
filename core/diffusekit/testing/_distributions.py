"""Write installable-looking distributions (a dist-info folder and modules) into a folder."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FakeDistribution:
    name: str
    version: str
    root: Path

    @property
    def dist_info(self) -> Path:
        return self.root / f"{self.name.replace('-', '_')}-{self.version}.dist-info"


def write_fake_distribution(
    root: str | Path,
    name: str,
    *,
    version: str = "1.0",
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    modules: Mapping[str, str] | None = None,
) -> FakeDistribution:
    """Create `<root>/<name>-<version>.dist-info` and module files as `pip install` would.

    `entry_points` maps group -> {name: "module:attr"}; `modules` maps a relative file path
    (``"my_plugin/__init__.py"``) to its source. Put `root` on ``sys.path`` to "install" it.
    """
    root = Path(root)
    dist = FakeDistribution(name, version, root)
    dist.dist_info.mkdir(parents=True, exist_ok=False)
    (dist.dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n", encoding="utf-8"
    )
    lines: list[str] = []
    for group, items in (entry_points or {}).items():
        lines.append(f"[{group}]")
        lines.extend(f"{key} = {value}" for key, value in items.items())
        lines.append("")
    (dist.dist_info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    for relative, source in (modules or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return dist
