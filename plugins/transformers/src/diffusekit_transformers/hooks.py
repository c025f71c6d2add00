"""``diffusekit.plugins`` hook module: loading options, zero-copy model loads and direct
``tokenizer.json`` tokenizer loads."""

from __future__ import annotations

from typing import Any

from diffusekit.hooks import hookimpl

from .options import from_pretrained_kwargs, is_model, is_transformers_class

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


@hookimpl
def diffusekit_load_component(
    library: str, component_class: type, path: str, options: dict[str, Any]
) -> Any | None:
    """Load a transformers model zero-copy (`fast_load`) or a tokenizer from its
    ``tokenizer.json`` (`fast_tokenizer`); None leaves it to transformers."""
    if library != LIBRARY or not is_transformers_class(component_class):
        return None
    from . import fast_load, fast_tokenizer

    if fast_load.opted_out():
        return None
    if is_model(component_class):
        return fast_load.load(component_class, path, options)
    if fast_tokenizer.is_tokenizer(component_class):
        return fast_tokenizer.load(component_class, path, options)
    return None
