"""Noise schedulers for diffusekit, one module per algorithm.

Classes load on first use (PEP 562), so importing the package costs nothing. The same classes
are reachable through the registry: ``diffusekit.registry.resolve("diffusers", "DDIMScheduler")``
or ``from diffusekit import DDIMScheduler``.
"""

from __future__ import annotations

import importlib
from typing import Any

_CLASSES: dict[str, str] = {
    "DDPMScheduler": "ddpm",
    "DDIMScheduler": "ddim",
    "PNDMScheduler": "pndm",
    "LMSDiscreteScheduler": "lms_discrete",
    "EulerDiscreteScheduler": "euler_discrete",
    "EulerAncestralDiscreteScheduler": "euler_ancestral_discrete",
    "HeunDiscreteScheduler": "heun_discrete",
    "KDPM2DiscreteScheduler": "k_dpm_2_discrete",
    "KDPM2AncestralDiscreteScheduler": "k_dpm_2_ancestral_discrete",
    "IPNDMScheduler": "ipndm",
    "ScoreSdeVeScheduler": "score_sde_ve",
    "ScoreSdeVpScheduler": "score_sde_vp",
    "KarrasVeScheduler": "karras_ve",
    "DPMSolverMultistepScheduler": "dpmsolver_multistep",
    "DPMSolverSinglestepScheduler": "dpmsolver_singlestep",
    "UniPCMultistepScheduler": "unipc_multistep",
    "DEISMultistepScheduler": "deis_multistep",
}

__all__ = sorted(_CLASSES)


def __getattr__(name: str) -> Any:
    if name not in _CLASSES:
        raise AttributeError(f"module 'diffusekit_schedulers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_CLASSES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
