"""diffusekit-transformers: serves the ``transformers`` library named by checkpoints.

Two entry points do the work: the ``diffusekit.libraries`` resolver (`resolver.resolve`) turns
``["transformers", "CLIPTextModel"]`` into the class, and the ``diffusekit.plugins`` hook
module (`hooks`) tells the core which keyword arguments that class's ``from_pretrained``
takes. Neither imports transformers until a transformers component is actually asked for.
"""

from __future__ import annotations

from .options import from_pretrained_kwargs
from .resolver import resolve

__all__ = ["from_pretrained_kwargs", "resolve"]
