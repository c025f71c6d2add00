"""`diffusekit inspect IMAGE.png`: the settings an image carries (ours, or AUTOMATIC1111's)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import DiffusekitError
from ._png_metadata import parse_parameters, read_chunks

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def is_image(path: str) -> bool:
    candidate = Path(path)
    return candidate.is_file() and candidate.suffix.lower() in IMAGE_SUFFIXES


def image_report(path: Path) -> dict[str, Any]:
    text, record = read_chunks(path)
    if text is None and record is None:
        raise DiffusekitError(
            f"{path}: no generation settings in the image (no 'parameters' or 'diffusekit' "
            f"text chunk)"
        )
    parameters = parse_parameters(text) if text is not None else None
    return {
        "image": str(path),
        "parameters": None if parameters is None else asdict(parameters),
        "record": record,
    }


def render(report: dict[str, Any]) -> list[str]:
    lines = [f"image: {report['image']}"]
    parameters = report["parameters"]
    if parameters is not None:
        lines.append(f"prompt: {parameters['prompt']}")
        if parameters["negative_prompt"] is not None:
            lines.append(f"negative prompt: {parameters['negative_prompt']}")
        lines.append(", ".join(f"{k}: {v}" for k, v in parameters["settings"].items()))
    record = report["record"]
    if record is None:
        lines.append("no diffusekit record: this image cannot be reproduced with --from")
        return lines
    lines += _record_lines(record)
    lines.append(f"reproduce: diffusekit generate --from {report['image']}")
    return lines


def _record_lines(record: dict[str, Any]) -> list[str]:
    where = str(record.get("checkpoint"))
    for key in ("revision", "commit", "subfolder", "variant"):
        if record.get(key):
            where += f" {key}={record[key]}"
    lines = [
        f"checkpoint: {where}",
        f"seed: {record.get('seed')} (batch seeds {record.get('batch_seeds')}, "
        f"image {record.get('batch_index')})",
        f"dtype: {record.get('dtype')}; device: {record.get('device')}; "
        f"{_threads_text(record)}diffusekit {record.get('diffusekit_version')}; "
        f"torch {record.get('torch')}",
    ]
    if record.get("scheduler_class"):
        lines.append(f"scheduler: {record['scheduler_class']} {record.get('scheduler_config')}")
    lines.append(f"call: {record.get('call')}")
    lines.append("components:")
    for name, row in (record.get("components") or {}).items():
        if row is None:
            lines.append(f"  {name}: None")
            continue
        provider = f"{row['distribution']} {row['version']}" if row.get("distribution") else "-"
        lines.append(f"  {name}: {row['class']}  [{provider}]")
    return lines


def _threads_text(record: dict[str, Any]) -> str:
    """Records written before `--threads` existed have no thread count."""
    threads = record.get("threads")
    text = "" if threads is None else f"threads: {threads}; "
    return text + ("compiled denoiser; " if record.get("compile") else "")
