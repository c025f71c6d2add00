"""Map `generate`'s options to the keyword arguments a pipeline's `__call__` takes.

The CLI is generic: it reads the call signature of whatever pipeline the checkpoint names and
passes only what that signature has. An option the pipeline does not take is a usage error
that names the option, the pipeline and what it does take. ``output_type`` is left at the
pipeline's default (image pipelines give PIL images, audio pipelines arrays); arrays of images
are converted when saving.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._errors import OptionError

#: CLI option -> the `__call__` parameters that carry it, first match wins.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "--prompt": ("prompt",),
    "--negative-prompt": ("negative_prompt",),
    "--steps": ("num_inference_steps",),
    "--guidance": ("guidance_scale",),
    "--height": ("height",),
    "--width": ("width",),
    "--num-images": ("num_images_per_prompt", "batch_size"),
    "--seed": ("generator",),
}


@dataclass(frozen=True)
class Requested:
    """What the user asked for; None means "not given" (the pipeline's default applies)."""

    prompt: str | None = None
    negative_prompt: str | None = None
    steps: int | None = None
    guidance: float | None = None
    height: int | None = None
    width: int | None = None
    num_images: int = 1

    def given(self) -> dict[str, Any]:
        values = {
            "--prompt": self.prompt,
            "--negative-prompt": self.negative_prompt,
            "--steps": self.steps,
            "--guidance": self.guidance,
            "--height": self.height,
            "--width": self.width,
            "--num-images": self.num_images if self.num_images != 1 else None,
        }
        return {option: value for option, value in values.items() if value is not None}


def call_parameters(pipeline_cls: type) -> list[str]:
    """The named parameters of the pipeline's `__call__` (without ``self``)."""
    call: Callable[..., Any] = pipeline_cls.__call__
    parameters = inspect.signature(call).parameters
    return [
        name
        for name, p in parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _target(option: str, accepted: list[str], pipeline_name: str) -> str:
    for parameter in PARAMETERS[option]:
        if parameter in accepted:
            return parameter
    raise OptionError(
        f"{pipeline_name} does not take {option} (its __call__ takes: {', '.join(accepted)})"
    )


def check(pipeline_cls: type, requested: Requested, *, seeded: bool) -> None:
    """Raise OptionError before anything is loaded if an option does not fit the pipeline."""
    accepted = call_parameters(pipeline_cls)
    options = [*requested.given()]
    if seeded:
        options.append("--seed")
    for option in options:
        _target(option, accepted, pipeline_cls.__name__)


def build(pipeline_cls: type, requested: Requested, generators: list[Any]) -> dict[str, Any]:
    """The keyword arguments for ``pipeline(**kwargs)``."""
    accepted = call_parameters(pipeline_cls)
    name = pipeline_cls.__name__
    kwargs = {_target(option, accepted, name): value for option, value in requested.given().items()}
    if "generator" in accepted:
        kwargs["generator"] = generators[0] if len(generators) == 1 else generators
    return kwargs
