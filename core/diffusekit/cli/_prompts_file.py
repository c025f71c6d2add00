"""`--prompts-file FILE`: one generation per line, each line with its own options.

A line is a prompt, optionally followed by options::

    a watercolor fox
    a lighthouse at dusk --seed 7 --negative-prompt "blurry, low quality"
    --prompt "a prompt that starts with dashes" --steps 30 --num-images 2

Blank lines and lines starting with ``#`` are skipped. Options on a line override the command
line's for that line only: ``--prompt``, ``--negative-prompt``, ``--seed``, ``--steps``,
``--guidance``, ``--width``, ``--height``, ``--num-images``. Option values follow shell
quoting. A line without ``--seed`` continues the command line's ``--seed`` (each image of
the run gets the next seed) or, without one, gets a random seed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from ._call_options import Requested
from ._errors import OptionError

MAX_SEED = 2**32 - 1
_OPTION_START = re.compile(r"(?:^|\s)--[a-z]")


@dataclass(frozen=True)
class Task:
    """One pipeline call: what to ask for and its first seed (None: choose one at random)."""

    requested: Requested
    seed: int | None
    line: int | None = None


def _line_command() -> click.Command:
    def options(**values: Any) -> dict[str, Any]:
        return values

    params: list[click.Parameter] = [
        click.Option(["--prompt"]),
        click.Option(["--negative-prompt"]),
        click.Option(["--seed"], type=click.IntRange(0, MAX_SEED)),
        click.Option(["--steps"], type=click.IntRange(min=1)),
        click.Option(["--guidance"], type=float),
        click.Option(["--width"], type=click.IntRange(min=1)),
        click.Option(["--height"], type=click.IntRange(min=1)),
        click.Option(["--num-images"], type=click.IntRange(min=1)),
    ]
    return click.Command("line", params=params, callback=options, add_help_option=False)


def parse_line(text: str, where: str) -> dict[str, Any]:
    """The options of one line (a leading prompt becomes ``prompt``); only those given."""
    match = _OPTION_START.search(text)
    prompt = (text if match is None else text[: match.start()]).strip()
    try:
        args = [] if match is None else shlex.split(text[match.start() :])
        ctx = _line_command().make_context("line", args)
    except ValueError as exc:
        raise OptionError(f"{where}: {exc}") from None
    except click.ClickException as exc:
        raise OptionError(f"{where}: {exc.format_message()}") from None
    values = {k: v for k, v in ctx.params.items() if v is not None}
    if prompt:
        if "prompt" in values:
            raise OptionError(f"{where}: the line starts with a prompt and also gives --prompt")
        values["prompt"] = prompt
    return values


def read(path: Path, base: Requested, seed: int | None) -> list[Task]:
    """One Task per prompt line of `path`, on top of the command line's `base` options."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"--prompts-file {path}: cannot read it ({exc})") from None
    tasks: list[Task] = []
    images = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        values = parse_line(line, f"{path}:{number}")
        line_seed = values.pop("seed", None)
        requested = replace(base, **values)
        if line_seed is None and seed is not None:
            line_seed = (seed + images) % (MAX_SEED + 1)
        tasks.append(Task(requested, line_seed, number))
        images += requested.num_images
    if not tasks:
        raise OptionError(f"--prompts-file {path}: no prompt lines (blank and # lines are skipped)")
    return tasks
