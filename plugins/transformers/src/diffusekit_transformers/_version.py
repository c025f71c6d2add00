"""The installed transformers release, for the keyword renames between its versions."""

from __future__ import annotations

import functools
import re

Release = tuple[int, int]

DTYPE_KEYWORD_SINCE: Release = (4, 56)
"""transformers 4.56 renamed ``torch_dtype`` to ``dtype`` (the old name still warns)."""

LOW_CPU_MEM_USAGE_UNTIL: Release = (5, 0)
"""transformers 5 always loads on the meta device and drops ``low_cpu_mem_usage``."""


def parse_release(version: str) -> Release:
    """``"4.56.2"`` or ``"5.0.0rc1"`` -> ``(major, minor)``."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"transformers version: expected 'MAJOR.MINOR...', found {version!r}")
    return int(match[1]), int(match[2])


@functools.cache
def installed_release() -> Release:
    import transformers

    return parse_release(transformers.__version__)
