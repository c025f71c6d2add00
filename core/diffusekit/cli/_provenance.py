"""The record that makes an image reproducible, and its AUTOMATIC1111 summary.

The ``diffusekit`` record (JSON, one per image) holds: where the checkpoint came from (path or
repo id, revision and the commit it pointed to, subfolder, variant), each component's class
and the distribution and version that provided it, the exact scheduler class and config, the
options given and the keyword arguments the pipeline was called with, this image's seed and
the seeds of the batch it was drawn in (its position too: a batch is re-run whole to get the
same numbers), dtype, device, torch's intra-op thread count (shown, never replayed: it changes
speed, not results), and the diffusekit, torch and Python versions.

Flat keys (``checkpoint``, ``pipeline``, ``scheduler``, ``seed``, ``steps``, ``prompt``, ...)
stay readable at a glance; ``format`` versions the layout.
"""

from __future__ import annotations

import inspect
import sys
from importlib import metadata
from typing import Any

from .. import registry
from ._png_metadata import Parameters, sampler_name
from ._sources import Source

FORMAT = 1


def describe(cls: type) -> dict[str, Any]:
    """Class name as checkpoints record it, where it lives, and who installed it (and, for a
    class a library resolver serves, the plugin that resolved it as ``via``)."""
    library, name = registry.name_of(cls)
    provider = registry.provider_of(cls)
    row: dict[str, Any] = {
        "class": f"{library}.{name}",
        "target": f"{cls.__module__}:{cls.__qualname__}",
        "distribution": provider[0] if provider else None,
        "version": provider[1] if provider else None,
    }
    resolver = _resolver_of(library, f"{library}.{name}")
    if resolver is not None:
        row["via"] = {"distribution": resolver.dist.name, "version": resolver.dist.version}
    return row


def _resolver_of(library: str, key: str) -> Any:
    """The library resolver entry that serves `key`, when no component entry point does."""
    from ..errors import PluginError

    try:
        if registry.select(registry.COMPONENTS, key) is not None:
            return None
        return registry.select(registry.LIBRARIES, library)
    except PluginError:
        return None


def _components(pipeline: Any) -> dict[str, Any]:
    """Each component's class; a `torch.compile` wrapper (--compile) records what it wraps."""
    rows: dict[str, Any] = {"pipeline": describe(type(pipeline))}
    for name, component in getattr(pipeline, "components", {}).items():
        component = getattr(component, "_orig_mod", component)
        rows[name] = None if component is None else describe(type(component))
    return rows


def scheduler_config(scheduler: Any) -> dict[str, Any]:
    """Every value of the config, explicit (so class defaults cannot drift in between)."""
    return {k: v for k, v in dict(scheduler.config).items() if not k.startswith("_")}


def base_record(
    source: Source, pipeline: Any, dtype: str, device: str, compiled: bool = False
) -> dict[str, Any]:
    """What is the same for every image of a run."""
    import torch

    scheduler = getattr(pipeline, "scheduler", None)
    has_scheduler = scheduler is not None and hasattr(scheduler, "config")
    return {
        "format": FORMAT,
        "diffusekit_version": metadata.version("diffusekit"),
        **source.as_dict(),
        "pipeline": type(pipeline).__name__,
        "scheduler": type(scheduler).__name__ if has_scheduler else None,
        "scheduler_class": describe(type(scheduler))["class"] if has_scheduler else None,
        "scheduler_config": scheduler_config(scheduler) if has_scheduler else None,
        "components": _components(pipeline),
        "dtype": dtype,
        "device": device,
        "threads": torch.get_num_threads(),
        "compile": compiled,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }


def image_record(
    base: dict[str, Any],
    given: dict[str, Any],
    call: dict[str, Any],
    seeds: list[int],
    index: int,
) -> dict[str, Any]:
    return {
        **base,
        **given,
        "call": call,
        "seed": seeds[index],
        "batch_seeds": seeds,
        "batch_index": index,
    }


def call_defaults(pipeline_cls: type) -> dict[str, Any]:
    """The defaults of the pipeline's `__call__` (what applies to an option not given)."""
    parameters = inspect.signature(pipeline_cls.__call__).parameters
    return {
        name: p.default
        for name, p in parameters.items()
        if p.default is not inspect.Parameter.empty and p.default is not None
    }


def summary(record: dict[str, Any], size: tuple[int, int], defaults: dict[str, Any]) -> Parameters:
    """The AUTOMATIC1111 ``parameters`` view of a record."""
    call = record.get("call", {})
    settings: dict[str, str] = {}
    steps = call.get("num_inference_steps", defaults.get("num_inference_steps"))
    if steps is not None:
        settings["Steps"] = str(steps)
    if record.get("scheduler"):
        settings["Sampler"] = sampler_name(record["scheduler"], record["scheduler_config"] or {})
    guidance = call.get("guidance_scale", defaults.get("guidance_scale"))
    if guidance is not None:
        settings["CFG scale"] = str(guidance)
    settings["Seed"] = str(record["seed"])
    settings["Size"] = f"{size[0]}x{size[1]}"
    settings["Model"] = model_name(record)
    settings["Version"] = f"diffusekit {record['diffusekit_version']}"
    prompt = call.get("prompt")
    return Parameters(
        prompt if isinstance(prompt, str) else "",
        call.get("negative_prompt"),
        settings,
    )


def model_name(record: dict[str, Any]) -> str:
    source = Source(record["checkpoint"], subfolder=record.get("subfolder"))
    name = source.model_name
    if record.get("subfolder"):
        name += f"/{record['subfolder']}"
    return name
