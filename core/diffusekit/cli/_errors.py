"""The command boundary: expected failures become one `error: ...` line and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from ..errors import DiffusekitError
from . import _formats

#: Exit code of a failure while running (bad checkpoint, missing plugin, pipeline error).
FAILURE = 1
#: Exit code of a usage error, as click uses it (bad option value, option the pipeline lacks).
USAGE = 2


class OptionError(DiffusekitError):
    """A command-line option does not fit the checkpoint (a usage error: exit code 2)."""


def one_line(exc: BaseException) -> str:
    """The message of `exc` on one line (multi-line messages joined with '; ')."""
    parts = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(parts) or type(exc).__name__
    if not isinstance(exc, (DiffusekitError, ValueError)):
        text = f"{type(exc).__name__}: {text}"
    return text


@contextmanager
def command_errors(debug: bool, handled: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Turn expected exceptions into ``error: <one line>`` on stderr and a non-zero exit.

    With `debug` they propagate with their traceback. `handled` adds exception types beyond
    DiffusekitError, ValueError and OSError.
    """
    expected: tuple[type[Exception], ...] = (DiffusekitError, ValueError, OSError, *handled)
    try:
        yield
    except expected as exc:
        if debug:
            raise
        code = USAGE if isinstance(exc, OptionError) else FAILURE
        _formats.error(one_line(exc), code)
        raise click.exceptions.Exit(code) from None
