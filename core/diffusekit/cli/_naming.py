"""Output file names: a template (``{index}``, ``{seed}``, ``{prompt_slug}``) or numbering, and
never overwriting a file that exists.

``--output 'out/{index:03d}-{seed}-{prompt_slug}.png'`` names each image from its running
index in the run (0, 1, ... across all prompts), its seed and its prompt. Without braces, one
image goes to the path itself and several to ``stem-0.png``, ``stem-1.png``, ... A name that
is taken gets ``_1``, ``_2``, ... before the suffix; the file is created exclusively
(``O_EXCL``), so two runs writing into one folder at once cannot pick the same name.
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

from ._errors import OptionError

FIELDS = ("index", "seed", "prompt_slug")
_SLUG_LENGTH = 48


def slug(prompt: str | None) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", (prompt or "").lower()).strip("-")
    return text[:_SLUG_LENGTH].rstrip("-") or "no-prompt"


def is_template(path: Path) -> bool:
    return "{" in str(path)


def check_template(path: Path) -> None:
    """Raise OptionError now (before loading) for unknown fields or bad format specs."""
    if not is_template(path):
        return
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(str(path)) if name is not None}
        unknown = sorted(names - set(FIELDS))
        if unknown:
            raise OptionError(
                f"--output {path}: unknown field(s) {', '.join(unknown)}; "
                f"a template may use {{{'}, {'.join(FIELDS)}}}"
            )
        str(path).format(index=0, seed=0, prompt_slug="x")
    except (ValueError, IndexError, KeyError) as exc:
        raise OptionError(f"--output {path}: not a valid name template ({exc})") from None


def name(path: Path, *, index: int, seed: int | None, prompt: str | None, count: int) -> Path:
    """The wanted name of image `index` of `count` (before `reserve` makes it unique)."""
    if is_template(path):
        return Path(str(path).format(index=index, seed=seed, prompt_slug=slug(prompt)))
    if count == 1:
        return path
    return path.with_name(f"{path.stem}-{index}{path.suffix}")


def reserve(path: Path) -> Path:
    """Create `path`, or ``stem_N.suffix`` for the first free N, empty; return the one created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate, number = path, 0
    while True:
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return candidate
        except FileExistsError:
            number += 1
            candidate = path.with_name(f"{path.stem}_{number}{path.suffix}")
