"""Outdated scheduler settings that Stable Diffusion pipelines correct when they are built.

Early Stable Diffusion checkpoints and default-constructed schedulers carry settings the
models were not sampled with. The reference pipelines rewrite them at construction, so a
checkpoint only gives the reference's numbers if we do the same:

- ``steps_offset`` other than 1: Stable Diffusion was sampled with the timesteps shifted by 1.
- ``clip_sample: true``: latents are not images in [-1, 1]; clipping the predicted x0 would
  distort them.

The pipeline gets a corrected copy; the scheduler passed in is not changed.
"""

from __future__ import annotations

import warnings
from typing import Any

from diffusekit.errors import DiffusekitWarning


def corrections(config: Any) -> dict[str, Any]:
    fixes: dict[str, Any] = {}
    if "steps_offset" in config and config["steps_offset"] != 1:
        fixes["steps_offset"] = 1
    if config.get("clip_sample", False) is True:
        fixes["clip_sample"] = False
    return fixes


def corrected_scheduler(scheduler: Any, pipeline: str) -> Any:
    """`scheduler`, or a copy with the outdated settings corrected (with a warning)."""
    if scheduler is None:
        return None
    fixes = corrections(scheduler.config)
    if not fixes:
        return scheduler
    found = {name: scheduler.config[name] for name in fixes}
    warnings.warn(
        f"scheduler: {pipeline} expects {fixes} (what Stable Diffusion was sampled with), "
        f"found {found} in the {type(scheduler).__name__} config; using a corrected copy. "
        f"Update the checkpoint's scheduler_config.json to silence this",
        DiffusekitWarning,
        stacklevel=4,
    )
    return type(scheduler).from_config(scheduler.config, **fixes)
