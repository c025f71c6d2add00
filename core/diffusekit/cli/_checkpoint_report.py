"""What `diffusekit inspect` reports about a checkpoint, from metadata alone.

Reads ``model_index.json`` and lists files; asks the registry which installed distribution
provides each class without importing any plugin; counts parameters from safetensors headers
(no tensor data is read). For a Hub repo only the JSON files are downloaded: weights that are
not in the local cache are listed without size or parameter count.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import _providers, hub, registry
from .._model_index import MODEL_INDEX, ComponentSpec, read_model_index
from .._snapshot_files import _UNREADABLE, _weight
from ..errors import PluginError

DEFAULT_VARIANT = "default"


@dataclass
class Provider:
    """Who serves a `<library>.<Class>`: a distribution, a register() call, or nobody."""

    status: str  # ok | registered | library-resolver | missing | conflict | blocked
    distribution: str | None = None
    version: str | None = None
    target: str | None = None
    install: str | None = None
    problem: str | None = None


@dataclass
class FileInfo:
    path: str
    size: int | None
    format: str | None = None  # safetensors | bin | other (unreadable weights); None: not weights
    variant: str | None = None
    parameters: int | None = None
    dtypes: list[str] = field(default_factory=list)


@dataclass
class ComponentReport:
    name: str
    library: str | None
    class_name: str | None
    provider: Provider | None
    files: list[FileInfo] = field(default_factory=list)

    @property
    def weights(self) -> list[FileInfo]:
        return [f for f in self.files if f.format is not None]

    @property
    def formats(self) -> list[str]:
        return sorted({f.format for f in self.weights if f.format is not None})

    @property
    def variants(self) -> list[str]:
        """Variants of the weights diffusekit reads (other formats carry no variant name)."""
        return sorted({f.variant or DEFAULT_VARIANT for f in self.weights if f.format != "other"})

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)

    @property
    def parameters(self) -> int | None:
        """Parameters of one copy of the weights: the default variant, else the first one."""
        counted = [f for f in self.weights if f.parameters is not None]
        for variant in (None, *sorted({f.variant for f in counted if f.variant})):
            chosen = [f.parameters for f in counted if f.variant == variant]
            if chosen:
                return sum(p for p in chosen if p is not None)
        return None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            formats=self.formats,
            variants=self.variants,
            size=self.size,
            parameters=self.parameters,
        )
        return data


@dataclass
class CheckpointReport:
    source: str
    root: str
    pipeline_class: str
    pipeline_provider: Provider
    families: list[str]
    components: list[ComponentReport]
    values: dict[str, Any]
    check: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "root": self.root,
            "pipeline_class": self.pipeline_class,
            "pipeline_provider": asdict(self.pipeline_provider),
            "families": self.families,
            "components": [c.as_dict() for c in self.components],
            "values": self.values,
            "check": self.check,
        }


# --------------------------------------------------------------------------------- providers


def provider_of(library: str, class_name: str) -> Provider:
    """Which installed distribution serves `library.class_name` (metadata only)."""
    name = f"{library}.{class_name}"
    if registry.explain(name).winner == "<register()>":
        return Provider("registered", target="<register()>")
    try:
        entry = registry.select(registry.COMPONENTS, name) or registry.select(
            registry.LIBRARIES, library
        )
    except PluginError as exc:
        status = "blocked" if "disabled" in str(exc) else "conflict"
        return Provider(status, problem=str(exc))
    if entry is None:
        hint = _providers.install_hint(library, class_name)
        return Provider("missing", install=f"pip install {hint}" if hint else None)
    status = "ok" if entry.group == registry.COMPONENTS else "library-resolver"
    return Provider(status, entry.dist.name, entry.dist.version, entry.value)


# ------------------------------------------------------------------------------------- files


def file_info(root: Path, relative: str) -> FileInfo:
    path = root / relative
    size = path.stat().st_size if path.is_file() else None
    weight = _weight(relative)
    if weight is not None and not relative.endswith(".json"):
        info = FileInfo(relative, size, weight.fmt, weight.variant)
        if weight.fmt == "safetensors" and size is not None:
            info.parameters, info.dtypes = safetensors_counts(path)
        return info
    if relative.endswith(_UNREADABLE):
        return FileInfo(relative, size, "other")
    return FileInfo(relative, size)


def safetensors_counts(path: Path) -> tuple[int, list[str]]:
    """Parameter count and dtypes from the header alone."""
    from safetensors import safe_open

    total = 0
    dtypes: set[str] = set()
    try:
        with safe_open(str(path), framework="numpy") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                tensor = handle.get_slice(key)
                count = 1
                for dim in tensor.get_shape():
                    count *= dim
                total += count
                dtypes.add(tensor.get_dtype())
    except Exception as exc:
        raise OSError(f"{path}: not a readable safetensors file ({exc})") from None
    return total, sorted(dtypes)


def _local_files(root: Path) -> list[str]:
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and ".cache" not in path.relative_to(root).parts
    )


def _open(
    source: str, revision: str | None = None, subfolder: str | None = None
) -> tuple[Path, list[str]]:
    """Local root and the repo-relative file names; for a repo id, downloads JSON files only.

    With `subfolder`, the checkpoint is the folder of that name inside `source`."""
    if hub.is_local(source):
        root = Path(source) / subfolder if subfolder else Path(source)
        hub.fetch_file(root, MODEL_INDEX)
        return root, _local_files(root)
    options = hub.HubOptions(revision=revision)
    listing = hub.list_repo(source, options)
    prefix = f"{subfolder.strip('/')}/" if subfolder else ""
    files = [f.removeprefix(prefix) for f in listing.files if f.startswith(prefix)]
    if MODEL_INDEX not in files:
        raise FileNotFoundError(f"{source}: the repository has no {prefix}{MODEL_INDEX}")
    small = [prefix + f for f in files if f.endswith((".json", ".txt"))]
    root = hub.download(listing, small, options)
    return (root / prefix if prefix else root), files


# ----------------------------------------------------------------------------------- report


def _component(name: str, spec: ComponentSpec, root: Path, files: list[str]) -> ComponentReport:
    provider = None
    if spec.library is not None and spec.class_name is not None:
        provider = provider_of(spec.library, spec.class_name)
    inside = [f for f in files if f.startswith(f"{name}/")]
    return ComponentReport(
        name,
        spec.library,
        spec.class_name,
        provider,
        [file_info(root, relative) for relative in inside],
    )


def build_report(
    source: str | os.PathLike[str], *, revision: str | None = None, subfolder: str | None = None
) -> CheckpointReport:
    from ..auto import families_of

    text = os.fspath(source)
    root, files = _open(text, revision, subfolder)
    index = read_model_index(root / MODEL_INDEX)
    return CheckpointReport(
        source=text,
        root=str(root),
        pipeline_class=index.class_name,
        pipeline_provider=provider_of("diffusers", index.class_name),
        families=families_of(index.class_name),
        components=[_component(name, spec, root, files) for name, spec in index.components.items()],
        values=dict(index.values),
    )
