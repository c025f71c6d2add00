"""DPMSolverMultistepScheduler without the reference: validation, forks, the paper's math."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
import torch
from diffusekit_schedulers._multistep import dpm_taylor_weights, level
from diffusekit_schedulers.dpmsolver_multistep import (
    DPMSolverMultistepScheduler,
    multistep_updates,
)
from diffusekit_schedulers.testing import SchedulerConformance

from diffusekit.errors import ConfigError

from ._solver_contract import SolverContract
from ._solvers import simpson


class TestContract(SolverContract):
    scheduler_class = DPMSolverMultistepScheduler
    registry_name = "DPMSolverMultistepScheduler"


class TestConformance(SchedulerConformance):
    scheduler_class = DPMSolverMultistepScheduler
    config: ClassVar[dict[str, Any]] = {"solver_order": 3}


class TestConformanceSDE(SchedulerConformance):
    scheduler_class = DPMSolverMultistepScheduler
    config: ClassVar[dict[str, Any]] = {"algorithm_type": "sde-dpmsolver++", "solver_type": "heun"}


class TestConformanceNoisePrediction(SchedulerConformance):
    scheduler_class = DPMSolverMultistepScheduler
    config: ClassVar[dict[str, Any]] = {
        "algorithm_type": "dpmsolver",
        "final_sigmas_type": "sigma_min",
        "use_karras_sigmas": True,
    }


def test_noise_prediction_needs_a_nonzero_final_sigma() -> None:
    with pytest.raises(ConfigError, match="final_sigmas_type"):
        DPMSolverMultistepScheduler(algorithm_type="dpmsolver")
    DPMSolverMultistepScheduler(algorithm_type="dpmsolver", final_sigmas_type="sigma_min")


def test_sde_dpmsolver_has_no_third_order() -> None:
    with pytest.raises(ConfigError, match="solver_order"):
        DPMSolverMultistepScheduler(
            algorithm_type="sde-dpmsolver", solver_order=3, final_sigmas_type="sigma_min"
        )


def test_other_solvers_choices_map_to_defaults() -> None:
    scheduler = DPMSolverMultistepScheduler(algorithm_type="deis", solver_type="bh2")
    assert scheduler.config["algorithm_type"] == "dpmsolver++"
    assert scheduler.config["solver_type"] == "midpoint"
    with pytest.raises(ConfigError, match="algorithm_type"):
        DPMSolverMultistepScheduler(algorithm_type="euler")


def test_custom_timesteps_exclude_sigma_ramps() -> None:
    scheduler = DPMSolverMultistepScheduler(use_karras_sigmas=True)
    with pytest.raises(ValueError, match="use_karras_sigmas"):
        scheduler.set_timesteps(timesteps=[900, 500, 100])
    with pytest.raises(ValueError, match="exactly one"):
        scheduler.set_timesteps(5, timesteps=[900, 500, 100])


def test_lower_order_final_and_warm_up() -> None:
    scheduler = DPMSolverMultistepScheduler(solver_order=3, final_sigmas_type="sigma_min")
    scheduler.set_timesteps(8)
    orders = []
    for i in range(8):
        orders.append(scheduler._order_at(i))
        scheduler.lower_order_nums = min(scheduler.lower_order_nums + 1, 3)
    assert orders == [1, 2, 3, 3, 3, 3, 2, 1]
    scheduler = DPMSolverMultistepScheduler(solver_order=3, final_sigmas_type="sigma_min")
    scheduler.set_timesteps(20)
    scheduler.lower_order_nums = 3
    assert scheduler._order_at(18) == 3 and scheduler._order_at(19) == 3


def _integrate(weight, x0, lam_s: float, lam_t: float) -> float:
    return simpson(lambda lam: weight(lam) * x0(lam), lam_s, lam_t)


@pytest.mark.parametrize("algorithm", ["dpmsolver++", "sde-dpmsolver++"])
def test_taylor_weights_are_exact_integrals(algorithm: str) -> None:
    """w_k integrates the k-th Taylor term exactly (Lu et al. 2022b, eq. 9; SDE: section 5)."""
    s, t = level(3.0), level(1.2)
    h = t.lam - s.lam
    _, weights, _ = dpm_taylor_weights(algorithm, t, s, 3)
    for k, w in enumerate(weights):
        term = lambda lam, k=k: (lam - s.lam) ** k / math.factorial(k) / h**k  # noqa: E731
        if algorithm == "dpmsolver++":
            kernel = lambda lam: t.sigma * math.exp(lam)  # noqa: E731
        else:
            kernel = lambda lam: 2 * t.alpha * math.exp(-2 * (t.lam - lam))  # noqa: E731
        assert w == pytest.approx(_integrate(kernel, term, s.lam, t.lam), rel=1e-9)


def test_heun_second_order_is_exact_for_linear_data_prediction() -> None:
    """With x0(lambda) linear, DPM-Solver++(2M, heun) reproduces the exact ODE solution."""
    levels = tuple(level(s) for s in (8.0, 3.0, 1.1, 0.3))
    x0 = lambda lam: 0.7 - 0.4 * lam  # noqa: E731
    i = 1
    update = multistep_updates("dpmsolver++", "heun", levels, i, 2)
    s, t = levels[i], levels[i + 1]
    x_s = 1.5
    exact = t.sigma / s.sigma * x_s + _integrate(
        lambda lam: t.sigma * math.exp(lam), x0, s.lam, t.lam
    )
    outputs = [x0(levels[i].lam), x0(levels[i - 1].lam)]
    got = update.sample * x_s + sum(w * m for w, m in zip(update.outputs, outputs))
    assert got == pytest.approx(exact, rel=1e-9)


def test_sde_variants_draw_noise_from_the_generator() -> None:
    outs = []
    for seed in (0, 0, 1):
        scheduler = DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++")
        scheduler.set_timesteps(4)
        x = torch.zeros(1, 1, 2, 2)
        g = torch.Generator().manual_seed(seed)
        for t in scheduler.timesteps:
            x = scheduler.step(x * 0.1, t, x, generator=g).prev_sample
        outs.append(x)
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], outs[2])


def test_learned_variance_uses_the_first_half_of_the_channels() -> None:
    a = DPMSolverMultistepScheduler(variance_type="learned_range")
    b = DPMSolverMultistepScheduler()
    for s in (a, b):
        s.set_timesteps(3)
    x = torch.ones(1, 3, 2, 2)
    eps = torch.full((1, 3, 2, 2), 0.3)
    t = a.timesteps[0]
    out_a = a.step(torch.cat([eps, torch.full_like(eps, 9.0)], dim=1), t, x).prev_sample
    out_b = b.step(eps, t, x).prev_sample
    assert torch.equal(out_a, out_b)
