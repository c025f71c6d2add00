"""Output checks and conversions shared by the pipelines of this package."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import torch

from diffusekit.errors import DiffusekitWarning
from diffusekit.image import VaeImageProcessor
from diffusekit.outputs import ImagePipelineOutput

ImageOutputType = Literal["pil", "np", "pt"]
IMAGE_OUTPUT_TYPES: tuple[str, ...] = ("pil", "np", "pt")
_ALIASES = {None: "np", "numpy": "np"}


def output_type_of(output_type: str | None, allowed: tuple[str, ...] = IMAGE_OUTPUT_TYPES) -> str:
    """`output_type` checked against `allowed` (``"numpy"`` and None mean ``"np"``)."""
    chosen = _ALIASES.get(output_type, output_type)
    if chosen not in allowed:
        raise ValueError(f"output_type: expected one of {list(allowed)}, found {output_type!r}")
    return str(chosen)


def image_output(
    images: torch.Tensor, output_type: str, return_dict: bool, *, signed: bool = True
) -> Any:
    """Images (batch, channels, height, width) as `output_type`, clamped to [0, 1].

    `signed` images are in [-1, 1] (the usual training range) and are mapped to [0, 1] first.
    """
    images = VaeImageProcessor.denormalize(images) if signed else images.clamp(0, 1)
    result: Any = images
    if output_type != "pt":
        result = VaeImageProcessor.pt_to_numpy(images)
        if output_type == "pil":
            result = VaeImageProcessor.numpy_to_pil(result)
    return ImagePipelineOutput(images=result) if return_dict else (result,)


def warn_ignored(pipeline: object, kwargs: Mapping[str, Any]) -> None:
    """The reference's unconditional pipelines accept and ignore extra keywords; say so.

    Called from a `__call__` under `torch.no_grad()`, whose wrapper adds a frame.
    """
    if kwargs:
        warnings.warn(
            f"{type(pipeline).__name__}.__call__: ignoring unknown arguments {sorted(kwargs)}",
            DiffusekitWarning,
            stacklevel=4,
        )
