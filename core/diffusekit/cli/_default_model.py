"""The checkpoint `generate` uses when given none: the one the unconditional plugin ships."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import PluginError

PACKAGE = "diffusekit_unconditional"
DISTRIBUTION = "diffusekit-unconditional"


def default_checkpoint() -> Path:
    """The folder of the embedded default model, or a PluginError naming the install."""
    try:
        plugin = importlib.import_module(PACKAGE)
    except ImportError as exc:
        if exc.name is not None and exc.name != PACKAGE:
            raise PluginError(
                f"the default model's plugin {DISTRIBUTION} failed to import: {exc}"
            ) from exc
        raise PluginError(
            f"no CHECKPOINT given and the default model's plugin is not installed; "
            f"pip install {DISTRIBUTION} (or pass a checkpoint folder or Hub repo id)"
        ) from None
    finder = getattr(plugin, "default_model_path", None)
    if finder is None:
        raise PluginError(
            f"no CHECKPOINT given and the installed {DISTRIBUTION} has no default_model_path(); "
            f"upgrade it: pip install -U {DISTRIBUTION}"
        )
    try:
        return Path(finder())
    except FileNotFoundError as exc:
        raise PluginError(f"no CHECKPOINT given and {exc}") from None
