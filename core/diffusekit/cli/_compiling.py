"""`generate --compile`: run the pipeline's denoiser through `torch.compile`, and report the
compilation time apart from the sampling time.

`torch.compile` compiles on the first call, so the denoiser's first forward takes minutes
and the later ones are the compiled speed. Timing every forward of the compiled module (hooks
on the wrapper run outside the compiled region) gives both: compilation is the first call's
time less a typical later call's. On CPU, inductor's weight freezing is switched on: it folds
the weights as constants and pre-packs them for oneDNN once, without which compiled
convolutions measured slower than eager on CPU (docs/benchmarks.md).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

#: Component names that hold a pipeline's denoiser, in the order they are looked for.
DENOISERS = ("unet", "transformer", "prior")


@dataclass
class CallTimes:
    """Wall time of every forward of one compiled module."""

    name: str
    seconds: list[float] = field(default_factory=list)
    _started: float = 0.0

    def start(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def stop(self, *_: Any) -> None:
        self.seconds.append(time.perf_counter() - self._started)

    def summary(self) -> str | None:
        """A line for people: compilation apart from the compiled calls; None before a call."""
        if not self.seconds:
            return None
        first, later = self.seconds[0], self.seconds[1:]
        if not later:
            return f"compiled {self.name}: first call {first:.1f} s (includes compilation)"
        typical = statistics.median(later)
        return (
            f"compiled {self.name}: compilation about {max(first - typical, 0.0):.1f} s "
            f"(first call {first:.1f} s), then {typical:.3f} s per call over {len(later)} calls"
        )


def denoiser_name(pipeline: Any) -> str:
    """The component `--compile` compiles; a usage error names the components found."""
    components = getattr(pipeline, "components", {})
    for name in DENOISERS:
        if components.get(name) is not None:
            return name
    found = ", ".join(sorted(n for n, c in components.items() if c is not None)) or "none"
    raise ValueError(
        f"--compile: this pipeline has no denoiser component ({' or '.join(DENOISERS)}) to "
        f"compile; its components are: {found}"
    )


def compile_denoiser(pipeline: Any, device: str) -> CallTimes:
    """Replace the denoiser with its compiled module; return the timer of its calls."""
    import torch

    name = denoiser_name(pipeline)
    if device == "cpu":
        import torch._inductor.config as inductor

        inductor.freezing = True
    compiled: Any = torch.compile(getattr(pipeline, name))
    times = CallTimes(name)
    compiled.register_forward_pre_hook(times.start)
    compiled.register_forward_hook(times.stop)
    setattr(pipeline, name, compiled)
    return times
