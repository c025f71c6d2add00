"""Microseconds per scheduler `step` on a 1x4x64x64 latent: diffusekit vs the reference.

Both libraries in this one process, 1 torch thread, alternating. Each repetition runs a whole
trajectory on a fresh schedule and times only the `step` calls; a sample is that
trajectory's median.

    python bench/bench_scheduler_step.py --steps 50 --repeat 5
"""

from __future__ import annotations

import importlib
import inspect
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import _harness as h
import torch

MODULES = {
    "DDPMScheduler": "ddpm",
    "DDIMScheduler": "ddim",
    "PNDMScheduler": "pndm",
    "LMSDiscreteScheduler": "lms_discrete",
    "EulerDiscreteScheduler": "euler_discrete",
    "EulerAncestralDiscreteScheduler": "euler_ancestral_discrete",
    "HeunDiscreteScheduler": "heun_discrete",
    "KDPM2DiscreteScheduler": "k_dpm_2_discrete",
    "KDPM2AncestralDiscreteScheduler": "k_dpm_2_ancestral_discrete",
    "IPNDMScheduler": "ipndm",
    "ScoreSdeVeScheduler": "score_sde_ve",
    "ScoreSdeVpScheduler": "score_sde_vp",
    "KarrasVeScheduler": "karras_ve",
}
CONFIGS = {"PNDMScheduler": {"skip_prk_steps": True}}
SHAPE = (1, 4, 64, 64)


def reference(name: str) -> type:
    import diffusers
    from diffusers.schedulers import deprecated

    return getattr(diffusers, name, None) or getattr(deprecated, name)


def ours(name: str) -> type:
    return getattr(importlib.import_module(f"diffusekit_schedulers.{MODULES[name]}"), name)


def timed(call: Callable[[], Any], times: list[float]) -> Any:
    start = time.perf_counter()
    result = call()
    times.append(time.perf_counter() - start)
    return result


def run_standard(s: Any, steps: int, times: list[float]) -> None:
    s.set_timesteps(steps)
    sample = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    declared = getattr(type(s), "step_options", None)
    if declared is None:  # the reference declares nothing; read its signature
        declared = inspect.signature(s.step).parameters
    accepts_generator = "generator" in declared
    for t in s.timesteps:
        x = s.scale_model_input(sample, t)
        out = x * 0.5
        kwargs = {"generator": gen} if accepts_generator else {}
        sample = timed(lambda: s.step(out, t, sample, **kwargs).prev_sample, times)  # noqa: B023


def run_sde_ve(s: Any, steps: int, times: list[float]) -> None:
    s.set_timesteps(steps)
    s.set_sigmas(steps)
    sample = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    for t in s.timesteps:
        out = -sample * 0.1
        sample = timed(lambda: s.step_pred(out, t, sample, generator=gen).prev_sample, times)  # noqa: B023


def run_sde_vp(s: Any, steps: int, times: list[float]) -> None:
    s.set_timesteps(steps)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    for t in s.timesteps:
        score = x * 0.1
        x = timed(lambda: s.step_pred(score, x, t, gen)[0], times)  # noqa: B023


def run_karras_ve(s: Any, steps: int, times: list[float]) -> None:
    s.set_timesteps(steps)
    sample = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    for t in s.timesteps:
        sigma = float(s.schedule[t])
        sigma_prev = float(s.schedule[t - 1]) if t > 0 else 0.0
        out = -0.5 * sample / sigma
        sample = timed(lambda: s.step(out, sigma, sigma_prev, sample).prev_sample, times)  # noqa: B023


RUNNERS = {
    "ScoreSdeVeScheduler": run_sde_ve,
    "ScoreSdeVpScheduler": run_sde_vp,
    "KarrasVeScheduler": run_karras_ve,
}


def measure(classes: tuple[type, type], name: str, steps: int, repeats: int) -> list[list[float]]:
    """Per-trajectory median µs per `step` for each class, the classes alternating."""
    runner = RUNNERS.get(name, run_standard)
    config = CONFIGS.get(name, {})

    def trajectory(cls: type) -> float:
        times: list[float] = []
        runner(cls(**config), steps, times)
        return statistics.median(times) * 1e6

    return h.alternating([partial(trajectory, cls) for cls in classes], repeats)


def main(args: Any) -> list[dict[str, Any]]:
    return h.one_thread_figures(args.only or MODULES, lambda name: _figure(name, args))


def _figure(name: str, args: Any) -> dict[str, Any]:
    mine, theirs = measure((ours(name), reference(name)), name, args.steps, args.repeat)
    return h.figure(f"scheduler.{name}", f"{name}.step", "µs", mine, theirs,
                    shape=list(SHAPE), steps=args.steps, threads=1)  # fmt: skip


if __name__ == "__main__":
    parser = h.parser(__doc__.splitlines()[0], repeat=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--only", nargs="*", default=None)
    h.run_script(__file__, {}, main, parser)
