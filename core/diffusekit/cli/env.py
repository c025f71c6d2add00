"""`diffusekit env`: the versions and settings a bug report needs, from one command."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import click

from . import _formats
from ._formats import format_option

#: Libraries whose versions change results or loading behaviour.
LIBRARIES = (
    "torch",
    "numpy",
    "safetensors",
    "huggingface_hub",
    "Pillow",
    "pydantic",
    "pluggy",
    "click",
    "transformers",
    "tokenizers",
    "accelerate",
)


@click.command("env")
@format_option
def env_command() -> None:
    """Print Python, torch, diffusekit and plugin versions, devices and threads."""
    report = environment()
    _formats.emit_lines(report, render(report))


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _plugins() -> list[dict[str, Any]]:
    from .. import registry

    found = registry.discovery()
    rows = []
    for key, dist in sorted(found.distributions.items()):
        blocked = found.settings.why_blocked(key)
        rows.append(
            {
                "distribution": dist.name,
                "version": dist.version,
                "location": dist.location,
                "enabled": blocked is None,
            }
        )
    return rows


def _torch() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    return {
        "version": torch.__version__,
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda
        else [],
        "mps_available": bool(mps is not None and mps.is_available()),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }


def environment() -> dict[str, Any]:
    from .._user_config import plugins_file
    from ._loading import best_device

    return {
        "diffusekit": _version("diffusekit"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": _torch(),
        "default_device": best_device(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "plugins": _plugins(),
        "settings": {k: v for k, v in sorted(os.environ.items()) if k.startswith("DIFFUSEKIT_")},
        "plugins_file": str(plugins_file()),
    }


def render(report: dict[str, Any]) -> list[str]:
    torch = report["torch"]
    lines = [
        f"diffusekit: {report['diffusekit']}",
        f"python: {report['python']} ({report['implementation']})",
        f"platform: {report['platform']}",
        f"torch: {torch['version']}",
        f"cuda: {torch['cuda_version'] or 'none'} (available: {torch['cuda_available']})",
    ]
    if torch["cuda_devices"]:
        lines.append(f"cuda devices: {', '.join(torch['cuda_devices'])}")
    lines += [
        f"mps available: {torch['mps_available']}",
        f"default device: {report['default_device']}",
        f"threads: {torch['threads']} (interop {torch['interop_threads']}; "
        f"{report['cpu_count']} CPUs)",
        "libraries:",
    ]
    lines += [f"  {n}: {v}" for n, v in report["libraries"].items() if v is not None]
    lines.append("plugins:" if report["plugins"] else "plugins: none installed")
    for row in report["plugins"]:
        state = "" if row["enabled"] else "  [disabled]"
        lines.append(f"  {row['distribution']}: {row['version']}{state}")
    for name, value in report["settings"].items():
        lines.append(f"{name}={value!r}")
    lines.append(f"plugin settings file: {report['plugins_file']}")
    return lines
