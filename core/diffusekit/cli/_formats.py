"""`--format human|json|quiet`: how every command writes its results.

- ``human`` (default): readable lines on stdout, progress bars on stderr.
- ``json``: one JSON object per line on stdout, for scripts; no progress bars; an error is a
  JSON object (``{"error": ..., "exit_code": ...}``) on stderr.
- ``quiet``: no progress bars and no status lines; only the results (the files written).

The option is accepted on the group (``diffusekit --format json generate ...``) and on each
command (``diffusekit generate --format json``); the command's wins. It lives in the click
context's ``meta``, which the whole command chain shares.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

import click

Format = Literal["human", "json", "quiet"]
FORMATS: tuple[Format, ...] = ("human", "json", "quiet")
_META_KEY = "diffusekit.format"

F = TypeVar("F", bound=Callable[..., Any])


def _store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_META_KEY] = value


def format_option(command: F) -> F:
    """Add ``--format`` to a command or group (the value is read with `current()`)."""
    option = click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_store,
        help="human (default), json (one object per line) or quiet (results only, no bars).",
    )
    return cast(F, option(command))


def current() -> Format:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "human"
    return cast(Format, ctx.meta.get(_META_KEY, "human"))


def set_current(value: Format) -> None:
    """Set the format from a command's own legacy flag (``inspect --json``)."""
    click.get_current_context().meta[_META_KEY] = value


def progress_enabled(no_progress: bool = False) -> bool:
    return current() == "human" and not no_progress


def to_json(data: Any) -> str:
    return json.dumps(data, default=str, ensure_ascii=False)


def emit(data: dict[str, Any], human: str | None = None, quiet: str | None = None) -> None:
    """Write one result: `data` as a JSON line, or the `human` / `quiet` text (None: nothing)."""
    fmt = current()
    text = to_json(data) if fmt == "json" else human if fmt == "human" else quiet
    if text is not None:
        click.echo(text)


def emit_lines(data: dict[str, Any], lines: list[str]) -> None:
    """A report: `data` as one JSON line, else its `lines` (human and quiet alike)."""
    if current() == "json":
        click.echo(to_json(data))
        return
    for line in lines:
        click.echo(line)


def error(message: str, exit_code: int) -> None:
    """Report an expected failure on stderr in the current format."""
    if current() == "json":
        click.echo(to_json({"error": message, "exit_code": exit_code}), err=True)
    else:
        click.echo(f"error: {message}", err=True)
