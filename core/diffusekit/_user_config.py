"""The user's persistent diffusekit settings: ``plugins.json`` in the user config folder.

The folder is ``$DIFFUSEKIT_CONFIG_DIR`` when set, else ``%APPDATA%\\diffusekit`` on Windows,
else ``$XDG_CONFIG_HOME/diffusekit`` (``~/.config/diffusekit``). The file holds the plugin
distributions the user disabled with ``diffusekit plugins disable``; it is written atomically
so a crash never leaves half a list (which would silently re-enable a plugin).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ._files import dump_json, read_json_object, write_text_atomic
from .errors import DiffusekitError, PluginError

CONFIG_DIR_VAR = "DIFFUSEKIT_CONFIG_DIR"
PLUGINS_FILE = "plugins.json"


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_VAR)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "diffusekit"
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "diffusekit"


def plugins_file() -> Path:
    return config_dir() / PLUGINS_FILE


def disabled_plugins() -> list[str]:
    """The distributions disabled in ``plugins.json`` (as written; empty when there is none)."""
    path = plugins_file()
    if not path.is_file():
        return []
    try:
        data = read_json_object(path, what="plugin settings")
    except DiffusekitError as exc:
        raise PluginError(f"{exc}; fix or delete the file to reset plugin settings") from None
    disabled = data.get("disabled", [])
    if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
        raise PluginError(
            f"{path}: 'disabled' must be a list of distribution names, found {disabled!r}; "
            "fix or delete the file to reset plugin settings"
        )
    return disabled


def set_disabled(names: list[str]) -> Path:
    """Replace the disabled list (sorted, without duplicates); keep the file's other keys."""
    path = plugins_file()
    data = read_json_object(path, what="plugin settings") if path.is_file() else {}
    data["disabled"] = sorted(set(names))
    write_text_atomic(path, dump_json(data))
    return path
