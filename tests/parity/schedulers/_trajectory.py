"""A deterministic denoising run, written once, that any scheduler (ours or the reference's)
goes through, so parity tests compare whole trajectories.

The fake network is the reference test suite's `sample * t / (t + 1)` plus a fixed tensor, so
every step's output depends on the input it sees (scaled input included) and on the timestep.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch

SHAPE = (2, 3, 8, 8)
RTOL = 1e-5
ATOL = 1e-5


def fixed_tensor(seed: int, shape: tuple[int, ...] = SHAPE) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)


def fake_model(x: torch.Tensor, t: Any, channels_out: int | None = None) -> torch.Tensor:
    """eps_theta(x, t) = x * t / (t + 1) + 0.1 * c, with c a fixed tensor."""
    t = torch.as_tensor(t, dtype=torch.float32)
    out = x * t / (t + 1) + 0.1 * fixed_tensor(1234, tuple(x.shape))
    if channels_out is not None and channels_out > x.shape[1]:
        extra = torch.tanh(fixed_tensor(99, (x.shape[0], channels_out - x.shape[1], *x.shape[2:])))
        out = torch.cat([out, extra], dim=1)
    return out


def accepted_step_options(scheduler: Any) -> set[str]:
    """Ours declare `step_options`; the reference's are read from `step`'s signature."""
    declared = getattr(type(scheduler), "step_options", None)
    if declared is not None:
        return set(declared)
    fixed = {"self", "model_output", "timestep", "sample", "return_dict"}
    return set(inspect.signature(scheduler.step).parameters) - fixed


@dataclass
class Trajectory:
    timesteps: torch.Tensor
    sigmas: torch.Tensor | None
    init_noise_sigma: float
    model_inputs: list[torch.Tensor] = field(default_factory=list)
    samples: list[torch.Tensor] = field(default_factory=list)
    originals: list[torch.Tensor | None] = field(default_factory=list)


def run(
    scheduler: Any,
    set_timesteps: dict[str, Any] | None = None,
    step_kwargs: dict[str, Any] | None = None,
    *,
    seed: int | None = 0,
    shape: tuple[int, ...] = SHAPE,
    channels_out: int | None = None,
) -> Trajectory:
    """set_timesteps, then scale_model_input + step over every timestep.

    `seed` seeds a CPU generator passed to `step` (None: no generator argument at all).
    """
    scheduler.set_timesteps(**(set_timesteps or {}))
    sigma0 = float(scheduler.init_noise_sigma)
    sample = fixed_tensor(0, shape) * sigma0
    sigmas = getattr(scheduler, "sigmas", None)
    traj = Trajectory(
        timesteps=scheduler.timesteps.clone(),
        sigmas=torch.as_tensor(sigmas).clone() if sigmas is not None else None,
        init_noise_sigma=sigma0,
    )
    kwargs = dict(step_kwargs or {})
    if seed is not None and "generator" in accepted_step_options(scheduler):
        kwargs["generator"] = torch.Generator().manual_seed(seed)
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(sample, t)
        model_output = fake_model(model_input, t, channels_out)
        result = scheduler.step(model_output, t, sample, **kwargs)
        sample = result.prev_sample
        traj.model_inputs.append(model_input)
        traj.samples.append(sample)
        traj.originals.append(getattr(result, "pred_original_sample", None))
    return traj


def assert_same(
    ours: Trajectory, theirs: Trajectory, *, rtol: float = RTOL, atol: float = ATOL
) -> None:
    """Every recorded tensor of two trajectories agrees within the tolerances."""
    torch.testing.assert_close(
        ours.timesteps.double(),
        theirs.timesteps.double(),
        rtol=rtol,
        atol=atol,
        equal_nan=True,
        msg="timesteps",
    )
    if theirs.sigmas is not None:
        assert ours.sigmas is not None, "reference has sigmas, ours has none"
        torch.testing.assert_close(
            ours.sigmas.double(), theirs.sigmas.double(), rtol=rtol, atol=atol
        )
    assert abs(ours.init_noise_sigma - theirs.init_noise_sigma) <= atol + rtol * abs(
        theirs.init_noise_sigma
    ), f"init_noise_sigma {ours.init_noise_sigma} != {theirs.init_noise_sigma}"
    assert len(ours.samples) == len(theirs.samples)
    for i, (a, b) in enumerate(zip(ours.model_inputs, theirs.model_inputs)):
        torch.testing.assert_close(
            a, b, rtol=rtol, atol=atol, equal_nan=True, msg=lambda m, i=i: f"input {i}: {m}"
        )
    for i, (a, b) in enumerate(zip(ours.samples, theirs.samples)):
        torch.testing.assert_close(
            a, b, rtol=rtol, atol=atol, equal_nan=True, msg=lambda m, i=i: f"step {i}: {m}"
        )
    for i, (a, b) in enumerate(zip(ours.originals, theirs.originals)):
        if a is not None and b is not None:
            torch.testing.assert_close(
                a, b, rtol=rtol, atol=atol, equal_nan=True, msg=lambda m, i=i: f"x0 {i}: {m}"
            )


def compare(
    ours_class: type,
    theirs_class: type,
    config: dict[str, Any],
    set_timesteps: dict[str, Any],
    step_kwargs: dict[str, Any] | None = None,
    **run_kwargs: Any,
) -> tuple[Any, Any]:
    """Build both from `config`, run both, assert the trajectories agree; return both schedulers."""
    ours = ours_class(**config)
    theirs = theirs_class(**config)
    a = run(ours, set_timesteps, step_kwargs, **run_kwargs)
    b = run(theirs, set_timesteps, step_kwargs, **run_kwargs)
    assert_same(a, b)
    return ours, theirs


def reference_class(name: str) -> type:
    import diffusers

    if hasattr(diffusers, name):
        return getattr(diffusers, name)
    from diffusers.schedulers import deprecated

    return getattr(deprecated, name)
