"""`diffusekit --no-plugins [--plugin DIST ...]`: run one command with an allow-list of plugins.

The allow-list is ``DIFFUSEKIT_LOAD_PLUGINS`` (see `diffusekit._settings`), set for the
duration of the command and restored afterwards, so child processes see it too and a test
runner that invokes several commands in one process is not left in safe mode.
"""

from __future__ import annotations

import os

import click

from .._settings import LOAD_VAR


def plugin_selection(ctx: click.Context, no_plugins: bool, allowed: tuple[str, ...]) -> None:
    """Restrict plugin loading to `allowed` when --no-plugins or --plugin was given."""
    if not no_plugins and not allowed:
        return
    from .. import registry

    previous = os.environ.get(LOAD_VAR)
    os.environ[LOAD_VAR] = ",".join(allowed)
    registry.refresh()

    def restore() -> None:
        if previous is None:
            os.environ.pop(LOAD_VAR, None)
        else:
            os.environ[LOAD_VAR] = previous
        registry.refresh()

    ctx.call_on_close(restore)
