"""`--scheduler NAME`: short aliases (euler, dpm++2m, ...) or class names -> a swapped scheduler.

An alias names a scheduler class and the config fields that make the variant (Karras sigmas,
the SDE form of DPM-Solver++). Classes are resolved through the registry, so any installed
plugin's scheduler works by class name. The swap keeps the checkpoint's own settings
(`Cls.from_config(old.config, **overrides)`), as the reference's schedulers do: ``euler`` on a
checkpoint whose scheduler uses Karras sigmas keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import registry
from ..errors import MissingComponentError, PluginError
from ._errors import OptionError

_KARRAS = {"use_karras_sigmas": True}
_DPMPP = {"algorithm_type": "dpmsolver++", "solver_order": 2}
_DPMPP_SDE = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}


@dataclass(frozen=True)
class Alias:
    class_name: str
    overrides: dict[str, Any] = field(default_factory=dict)


ALIASES: dict[str, Alias] = {
    "ddim": Alias("DDIMScheduler"),
    "ddpm": Alias("DDPMScheduler"),
    "pndm": Alias("PNDMScheduler"),
    "ipndm": Alias("IPNDMScheduler"),
    "lms": Alias("LMSDiscreteScheduler"),
    "lms-karras": Alias("LMSDiscreteScheduler", _KARRAS),
    "euler": Alias("EulerDiscreteScheduler"),
    "euler-karras": Alias("EulerDiscreteScheduler", _KARRAS),
    "euler-a": Alias("EulerAncestralDiscreteScheduler"),
    "heun": Alias("HeunDiscreteScheduler"),
    "heun-karras": Alias("HeunDiscreteScheduler", _KARRAS),
    "dpm2": Alias("KDPM2DiscreteScheduler"),
    "dpm2-karras": Alias("KDPM2DiscreteScheduler", _KARRAS),
    "dpm2-a": Alias("KDPM2AncestralDiscreteScheduler"),
    "dpm2-a-karras": Alias("KDPM2AncestralDiscreteScheduler", _KARRAS),
    "dpm++2m": Alias("DPMSolverMultistepScheduler", _DPMPP),
    "dpm++2m-karras": Alias("DPMSolverMultistepScheduler", {**_DPMPP, **_KARRAS}),
    "dpm++2m-sde": Alias("DPMSolverMultistepScheduler", _DPMPP_SDE),
    "dpm++2m-sde-karras": Alias("DPMSolverMultistepScheduler", {**_DPMPP_SDE, **_KARRAS}),
    "dpm-singlestep": Alias("DPMSolverSinglestepScheduler"),
    "unipc": Alias("UniPCMultistepScheduler"),
    "deis": Alias("DEISMultistepScheduler", {"algorithm_type": "deis"}),
}

LIBRARY = "diffusers"


def lookup(name: str) -> Alias:
    """The alias `name` (case-insensitive), or a class name taken as it is."""
    alias = ALIASES.get(name.lower())
    if alias is not None:
        return alias
    if name.isidentifier():
        return Alias(name)
    raise OptionError(
        f"--scheduler {name!r}: neither a known alias nor a class name; {_choices(None)}"
    )


def _compatible_names(current: Any) -> list[str]:
    if current is None:
        return []
    return sorted({cls.__name__ for cls in getattr(current, "compatibles", [type(current)])})


def _choices(current: Any) -> str:
    text = f"known aliases: {', '.join(ALIASES)}"
    names = _compatible_names(current)
    if names:
        text += f"; installed compatible classes: {', '.join(names)}"
    return text


def swap(pipeline: Any, name: str) -> Any:
    """Replace `pipeline.scheduler` by the scheduler `name` built from its config."""
    current = getattr(pipeline, "scheduler", None)
    if current is None or not hasattr(current, "config"):
        raise OptionError(
            f"--scheduler {name!r}: {type(pipeline).__name__} has no scheduler component to swap"
        )
    alias = lookup(name)
    try:
        cls = registry.resolve(LIBRARY, alias.class_name, requested_by=f"--scheduler {name}")
    except MissingComponentError as exc:
        raise OptionError(
            f"--scheduler {name!r}: neither a known alias nor an installed scheduler class "
            f"({LIBRARY}.{alias.class_name}); {_choices(current)}"
        ) from exc
    except PluginError as exc:
        raise OptionError(f"--scheduler {name!r}: {exc}") from exc
    allowed = getattr(current, "compatibles", None)
    if allowed is not None and cls not in allowed:
        raise OptionError(
            f"--scheduler {name!r}: {cls.__name__} is not compatible with the checkpoint's "
            f"{type(current).__name__}; {_choices(current)}"
        )
    scheduler: Any = cls.from_config(current.config, **alias.overrides)  # type: ignore[attr-defined]
    pipeline.register_modules(scheduler=scheduler)
    return scheduler
