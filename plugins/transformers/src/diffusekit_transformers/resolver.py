"""``diffusekit.libraries`` resolver: a transformers class name -> the class.

Checkpoints name transformers components by the class name they were saved with. Some of
those names are gone from the transformers installed today, so a name that transformers no
longer exports is retried under its successor (`LEGACY_SUFFIXES`):

- ``<Model>FeatureExtractor`` -> ``<Model>ImageProcessor``: the vision feature extractors were
  deprecated aliases of the image processors and transformers 5 removed them
  (``CLIPFeatureExtractor`` in Stable Diffusion 1.x, ``DPTFeatureExtractor`` in SD 2 depth).
  Audio feature extractors (``ClapFeatureExtractor``) still exist and resolve to themselves.
- ``<Model>TokenizerFast`` -> ``<Model>Tokenizer``: transformers 5 merged the two tokenizer
  families into one class per model.

A name transformers does not export under either spelling returns None, so the registry raises
its `MissingComponentError`. A name it exports that is not a loadable class (a function, an
``Auto*`` factory without ``save_pretrained``) or that needs a missing optional dependency
raises, and the registry reports that with this distribution's name.
"""

from __future__ import annotations

import importlib
from typing import Any

LEGACY_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("FeatureExtractor", "ImageProcessor"),
    ("TokenizerFast", "Tokenizer"),
)
LOADER_METHODS = ("from_pretrained", "save_pretrained")


def candidate_names(class_name: str) -> list[str]:
    """`class_name`, then the successor names to try if transformers lacks it."""
    names = [class_name]
    for old, new in LEGACY_SUFFIXES:
        if class_name.endswith(old) and len(class_name) > len(old):
            names.append(class_name[: -len(old)] + new)
    return names


def resolve(class_name: str) -> type | None:
    """The transformers class a checkpoint names `class_name`, or None if there is none."""
    if not class_name.isidentifier() or class_name.startswith("_"):
        return None
    transformers = importlib.import_module("transformers")
    for name in candidate_names(class_name):
        found = getattr(transformers, name, None)
        if found is not None:
            return _loadable(name, found)
    return None


def _loadable(name: str, found: Any) -> type:
    if not isinstance(found, type):
        raise TypeError(
            f"transformers.{name} is a {type(found).__name__}, expected a class with "
            f"{' and '.join(LOADER_METHODS)}"
        )
    try:
        missing = [
            method for method in LOADER_METHODS if not callable(getattr(found, method, None))
        ]
    except ImportError as exc:
        reason = " ".join(str(exc).split())
        raise ImportError(f"transformers.{name} is exported but cannot be used: {reason}") from exc
    if missing:
        raise TypeError(
            f"transformers.{name} has no {' or '.join(missing)}, so it cannot be loaded and "
            f"saved as a pipeline component"
        )
    return found
