"""diffusekit: diffusion pipelines from Hugging Face-format checkpoints, core plus plugins.

Importing this package is cheap: it loads neither torch, nor pluggy, nor any plugin. Public
names load on first use (PEP 562), and any other attribute is looked up in the registry under
library ``diffusers``, so ``from diffusekit import UNet2DConditionModel`` works when a plugin
provides it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "ConfigMixin": "diffusekit.config",
    "FrozenConfig": "diffusekit.config",
    "BaseConfig": "diffusekit.config",
    "ModelMixin": "diffusekit.modeling",
    "SchedulerMixin": "diffusekit.scheduling",
    "SchedulerConfig": "diffusekit.scheduling",
    "SchedulerOutput": "diffusekit.scheduling",
    "DiffusekitError": "diffusekit.errors",
    "MissingComponentError": "diffusekit.errors",
    "PluginError": "diffusekit.errors",
    "ConfigError": "diffusekit.errors",
    "CheckpointError": "diffusekit.errors",
    "RemoteCodeError": "diffusekit.errors",
    "ImagePipelineOutput": "diffusekit.outputs",
    "AudioPipelineOutput": "diffusekit.outputs",
    "VaeImageProcessor": "diffusekit.image",
    "make_image_grid": "diffusekit.image",
    "export_to_gif": "diffusekit.image",
    "export_to_wav": "diffusekit.image",
    "load_image": "diffusekit.image",
    "DiffusionPipeline": "diffusekit.pipeline",
    "AutoPipelineForText2Image": "diffusekit.auto",
    "AutoPipelineForImage2Image": "diffusekit.auto",
    "AutoPipelineForInpainting": "diffusekit.auto",
}
_SUBMODULES = {
    "registry",
    "hooks",
    "errors",
    "config",
    "modeling",
    "scheduling",
    "testing",
    "pipeline",
    "kernel",
    "auto",
    "image",
}

__all__ = ["__version__", *_LAZY, *sorted(_SUBMODULES)]

if TYPE_CHECKING:
    from . import (
        auto,
        config,
        errors,
        hooks,
        image,
        kernel,
        modeling,
        pipeline,
        registry,
        scheduling,
        testing,
    )
    from .auto import (
        AutoPipelineForImage2Image,
        AutoPipelineForInpainting,
        AutoPipelineForText2Image,
    )
    from .config import BaseConfig, ConfigMixin, FrozenConfig
    from .errors import (
        CheckpointError,
        ConfigError,
        DiffusekitError,
        MissingComponentError,
        PluginError,
        RemoteCodeError,
    )
    from .image import (
        VaeImageProcessor,
        export_to_gif,
        export_to_wav,
        load_image,
        make_image_grid,
    )
    from .modeling import ModelMixin
    from .outputs import AudioPipelineOutput, ImagePipelineOutput
    from .pipeline import DiffusionPipeline
    from .scheduling import SchedulerConfig, SchedulerMixin, SchedulerOutput


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name.startswith("_"):
        raise AttributeError(name)
    else:
        from .errors import MissingComponentError
        from .registry import resolve

        try:
            value = resolve("diffusers", name, requested_by=f"'from diffusekit import {name}'")
        except MissingComponentError as exc:
            raise AttributeError(f"module 'diffusekit' has no attribute {name!r}: {exc}") from exc
        return value
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
