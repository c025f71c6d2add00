"""Trajectory parity for the exponential-integrator solvers (DPM-Solver, UniPC, DEIS).

These solvers compute their step coefficients from the schedule in float64; the reference
computes them in float32 from float32 noise levels, and its own float32 trajectory sits up to
about 2e-5 (relative) away from the exact value of its formulas (DEIS with Karras sigmas is
the worst case). So each trajectory is checked twice, relative to the sample's scale at every
step:

- against the reference's formulas evaluated in float64 (its noise levels upcast after
  `set_timesteps`, a float64 sample): within 1e-5;
- against the reference's plain float32 run: within 5e-5.
"""

from __future__ import annotations

from typing import Any

import torch

from ._trajectory import Trajectory, fake_model, fixed_tensor, reference_class, run

EXACT_RTOL = 1e-5
FLOAT32_RTOL = 5e-5


def run_float64(
    scheduler: Any,
    set_timesteps: dict[str, Any],
    step_kwargs: dict[str, Any] | None,
    seed: int | None,
    channels_out: int | None,
) -> list[torch.Tensor]:
    scheduler.set_timesteps(**set_timesteps)
    scheduler.sigmas = scheduler.sigmas.double()
    sample = fixed_tensor(0).double() * float(scheduler.init_noise_sigma)
    kwargs = dict(step_kwargs or {})
    if seed is not None:
        kwargs["generator"] = torch.Generator().manual_seed(seed)
    samples = []
    for t in scheduler.timesteps:
        output = fake_model(sample, t, channels_out).double()
        sample = scheduler.step(output, t, sample, **kwargs).prev_sample
        samples.append(sample)
    return samples


def assert_close_to_scale(
    ours: list[torch.Tensor], theirs: list[torch.Tensor], rtol: float, what: str
) -> None:
    assert len(ours) == len(theirs), f"{what}: {len(ours)} steps, reference {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        scale = float(b.abs().max())
        error = float((a.double() - b.double()).abs().max())
        assert error <= rtol * max(scale, 1e-3), (
            f"{what}, step {i}: max error {error:.3g} > {rtol} x scale {scale:.3g}"
        )


def compare_solver(
    ours_class: type,
    reference_name: str,
    config: dict[str, Any],
    set_timesteps: dict[str, Any],
    step_kwargs: dict[str, Any] | None = None,
    *,
    seed: int | None = None,
    channels_out: int | None = None,
    exact: bool = True,
) -> Trajectory:
    """Run ours in float32; compare with the reference in float64 and in float32.

    `exact=False` skips the float64 run (for solvers that draw their noise in the sample's
    dtype, so a float64 run sees other noise) and holds the float32 run to 1e-5 instead.
    """
    reference = reference_class(reference_name)
    ours = run(
        ours_class(**config), set_timesteps, step_kwargs, seed=seed, channels_out=channels_out
    )
    theirs = run(
        reference(**config), set_timesteps, step_kwargs, seed=seed, channels_out=channels_out
    )
    torch.testing.assert_close(ours.timesteps, theirs.timesteps, rtol=0, atol=0, msg="timesteps")
    torch.testing.assert_close(ours.sigmas, theirs.sigmas, rtol=1e-6, atol=0, msg="sigmas")
    if exact:
        exact_run = run_float64(reference(**config), set_timesteps, step_kwargs, seed, channels_out)
        assert_close_to_scale(ours.samples, exact_run, EXACT_RTOL, "vs reference in float64")
    rtol = FLOAT32_RTOL if exact else EXACT_RTOL
    assert_close_to_scale(ours.samples, theirs.samples, rtol, "vs reference in float32")
    return ours
