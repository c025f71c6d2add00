"""`generate --threads N`: torch's intra-op thread count for one run.

Threads change how fast a CPU run goes, not which numbers it computes (up to the summation
order of a few reductions), so ``--from`` does not replay them; the record keeps the count
used so `inspect` can show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click


class ThreadCount(click.ParamType):
    """A positive whole number; anything else is a usage error naming the option."""

    name = "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        text = str(value).strip()
        if text.isdecimal() and int(text) >= 1:
            return int(text)
        self.fail(f"expected a positive whole number of threads, found {value!r}", param, ctx)


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run a block with `count` intra-op threads (None: leave torch's setting), then restore."""
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
