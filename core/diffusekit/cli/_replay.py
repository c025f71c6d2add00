"""`generate --from IMAGE.png`: the run that made an image, read back from its record.

Everything comes from the ``diffusekit`` chunk: the checkpoint (pinned to the recorded Hub
commit), the exact scheduler class and config, the options, the batch's seeds (the whole batch
is drawn again and only this image kept, so batched arithmetic is the same), dtype and
device. Options given on the command line replace recorded ones. Before anything loads, every
recorded class must be installed; a missing one names the distribution and version to
``pip install``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import registry
from ..errors import DiffusekitError, MissingComponentError, PluginError
from ._call_options import Requested
from ._png_metadata import read_chunks
from ._provenance import FORMAT
from ._sources import Source

#: Recorded option keys (as `generate` writes them) -> Requested fields.
OPTION_KEYS = ("prompt", "negative_prompt", "steps", "guidance", "height", "width")


@dataclass(frozen=True)
class Replay:
    image: Path
    record: dict[str, Any]
    source: Source
    requested: Requested
    seeds: list[int]
    index: int

    @property
    def dtype(self) -> str:
        return str(self.record.get("dtype") or "fp32")

    @property
    def compiled(self) -> bool:
        """Whether the image was made with --compile (compiled numbers differ in the last bits)."""
        return bool(self.record.get("compile", False))

    @property
    def device(self) -> str | None:
        device = self.record.get("device")
        return str(device).partition(":")[0] if device else None


def read(image: Path) -> Replay:
    parameters, record = read_chunks(image)
    if record is None:
        made_elsewhere = " (it has AUTOMATIC1111 parameters only)" if parameters else ""
        raise DiffusekitError(
            f"--from {image}: no 'diffusekit' record in the image{made_elsewhere}; only "
            f"PNGs written by `diffusekit generate` can be reproduced"
        )
    if record.get("format") != FORMAT or "batch_seeds" not in record:
        raise DiffusekitError(
            f"--from {image}: record format {record.get('format')!r} is not the one this "
            f"diffusekit reads ({FORMAT}); use the diffusekit version that wrote it "
            f"({record.get('diffusekit_version', 'unknown')})"
        )
    seeds = [int(s) for s in record["batch_seeds"]]
    source = Source(
        record["checkpoint"],
        revision=record.get("revision"),
        subfolder=record.get("subfolder"),
        variant=record.get("variant"),
        commit=record.get("commit"),
    )
    values = {key: record[key] for key in OPTION_KEYS if record.get(key) is not None}
    requested = Requested(**values, num_images=len(seeds))
    return Replay(image, record, source, requested, seeds, int(record.get("batch_index", 0)))


def with_overrides(replay: Replay, given: dict[str, Any]) -> Replay:
    """Options from the command line replace recorded ones."""
    return replace(replay, requested=replace(replay.requested, **given))


def check_installed(replay: Replay) -> list[str]:
    """Raise PluginError for a recorded class nobody installed provides; return notes for
    classes now served by a different version than the recorded one."""
    notes = []
    for name, row in replay.record.get("components", {}).items():
        if not row:
            continue
        library, _, class_name = row["class"].rpartition(".")
        try:
            cls = registry.resolve(library, class_name, requested_by=f"--from {replay.image}")
        except MissingComponentError as exc:
            raise PluginError(_missing_line(replay.image, name, row, exc)) from None
        now = registry.provider_of(cls)
        if row.get("distribution") and now is not None and now[1] != row.get("version"):
            notes.append(
                f"note: {name} ({row['class']}) was made with {row['distribution']} "
                f"{row['version']}, installed is {now[0]} {now[1]}; results may differ "
                f"(pip install {row['distribution']}=={row['version']})"
            )
    return notes


def _missing_line(image: Path, name: str, row: dict[str, Any], exc: Exception) -> str:
    dist, version = row.get("distribution"), row.get("version")
    via = row.get("via")
    if via:
        return (
            f"--from {image}: {name} needs {row['class']}, resolved by the plugin "
            f"{via['distribution']} {via['version']} when the image was made and by no "
            f"installed plugin now; pip install {via['distribution']}=={via['version']}"
        )
    if dist:
        return (
            f"--from {image}: {name} needs {row['class']}, provided by {dist} {version} when "
            f"the image was made and by no installed plugin now; pip install {dist}=={version}"
        )
    return f"--from {image}: {name} needs {row['class']}: {exc}"


def scheduler_for(replay: Replay) -> Any | None:
    """The recorded scheduler, built from its recorded config (None when there was none)."""
    name, config = replay.record.get("scheduler_class"), replay.record.get("scheduler_config")
    if not name or config is None:
        return None
    library, _, class_name = str(name).rpartition(".")
    cls: Any = registry.resolve(library, class_name, requested_by=f"--from {replay.image}")
    return cls.from_config(config)
