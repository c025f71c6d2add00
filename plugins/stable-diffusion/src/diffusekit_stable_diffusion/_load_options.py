"""``diffusekit.plugins`` hook module: loading options for this plugin's checkpoint libraries.

Checkpoints name the safety checkers under the libraries ``stable_diffusion`` and
``stable_diffusion_safe``, not ``transformers``, so the transformers plugin does not answer for
them; but the checkers are transformers models, and load with the same options it gives those
(the dtype under the installed release's keyword, safetensors unless the caller opts out).
The reference now saves the Safe checker under ``diffusers``; for this plugin's checker classes
that library is answered for too.
"""

from __future__ import annotations

from typing import Any

from diffusekit.hooks import hookimpl

LIBRARIES = frozenset({"stable_diffusion", "stable_diffusion_safe"})


@hookimpl
def diffusekit_load_options(
    library: str, component_class: type, options: dict[str, Any]
) -> dict[str, Any] | None:
    ours = component_class.__module__.startswith(f"{__package__}.")
    if library not in LIBRARIES and not (library == "diffusers" and ours):
        return None
    from diffusekit_transformers.options import from_pretrained_kwargs

    return from_pretrained_kwargs(component_class, options)
