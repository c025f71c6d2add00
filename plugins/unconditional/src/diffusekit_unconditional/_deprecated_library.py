"""Library ``deprecated``: how the reference names classes it moved to ``*/deprecated/``.

The reference records a component by the name of the package its class lives in, so a
`KarrasVePipeline` it saves lists ``"scheduler": ["deprecated", "KarrasVeScheduler"]``. Those
classes are the ``diffusers`` ones by another name.
"""

from __future__ import annotations

from diffusekit import registry
from diffusekit.errors import MissingComponentError


def resolve(class_name: str) -> type | None:
    """The class installed as ``diffusers.<class_name>``, or None."""
    try:
        return registry.resolve("diffusers", class_name)
    except MissingComponentError:
        return None
