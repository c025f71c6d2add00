"""``diffusekit.plugins`` hook module: loading options for transformers components."""

from __future__ import annotations

from typing import Any

from diffusekit.hooks import hookimpl

from .options import from_pretrained_kwargs, is_transformers_class

LIBRARY = "transformers"


@hookimpl
def diffusekit_load_options(
    library: str, component_class: type, options: dict[str, Any]
) -> dict[str, Any] | None:
    """Answer for transformers classes of library ``transformers``; None for anything else.

    A class registered under library ``transformers`` that does not come from transformers
    (a user's own text encoder, say) is left to the core's signature matching.
    """
    if library != LIBRARY or not is_transformers_class(component_class):
        return None
    return from_pretrained_kwargs(component_class, options)
