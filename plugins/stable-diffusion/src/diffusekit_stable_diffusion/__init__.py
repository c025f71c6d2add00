"""diffusekit-stable-diffusion: Stable Diffusion's safety checker and pipeline outputs.

Names are imported lazily (PEP 562): importing the package loads neither torch nor
transformers until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SafeStableDiffusionSafetyChecker": "safety_checker",
    "SafeLatentGuidance": "safe_guidance",
    "SafetyConfig": "safe_guidance",
    "StableDiffusionPipelineOutput": "outputs",
    "StableDiffusionPipelineSafe": "safe",
    "StableDiffusionSafePipelineOutput": "outputs",
    "StableDiffusionSafetyChecker": "safety_checker",
    "StableDiffusionUpscalePipeline": "upscale",
    "black_out": "black_out",
    "run_safety_checker": "safety_check",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'diffusekit_stable_diffusion' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return __all__
