"""DPMSolverSinglestepScheduler without the reference: validation, forks, order cycles, math."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
from diffusekit_schedulers._multistep import level
from diffusekit_schedulers.dpmsolver_singlestep import (
    DPMSolverSinglestepScheduler,
    order_list,
    singlestep_update,
)
from diffusekit_schedulers.testing import SchedulerConformance

from diffusekit.errors import ConfigError

from ._solver_contract import SolverContract
from ._solvers import simpson


class TestContract(SolverContract):
    scheduler_class = DPMSolverSinglestepScheduler
    registry_name = "DPMSolverSinglestepScheduler"


class TestConformance(SchedulerConformance):
    scheduler_class = DPMSolverSinglestepScheduler
    config: ClassVar[dict[str, Any]] = {"solver_order": 3}


class TestConformanceSDE(SchedulerConformance):
    scheduler_class = DPMSolverSinglestepScheduler
    config: ClassVar[dict[str, Any]] = {"algorithm_type": "sde-dpmsolver++"}


def test_sde_dpmsolver_is_not_offered() -> None:
    with pytest.raises(ConfigError, match="algorithm_type"):
        DPMSolverSinglestepScheduler(algorithm_type="sde-dpmsolver")


@pytest.mark.parametrize(
    ("steps", "order", "lower", "zero", "expected"),
    [
        (6, 3, False, False, [1, 2, 3, 1, 2, 3]),
        (6, 3, True, False, [1, 2, 3, 1, 2, 1]),
        (7, 3, True, False, [1, 2, 3, 1, 2, 3, 1]),
        (8, 3, True, True, [1, 2, 3, 1, 2, 3, 1, 1]),
        (6, 2, True, False, [1, 2, 1, 2, 1, 1]),
        (5, 2, True, False, [1, 2, 1, 2, 1]),
        (4, 1, True, True, [1, 1, 1, 1]),
    ],
)
def test_order_cycles(steps: int, order: int, lower: bool, zero: bool, expected: list) -> None:
    assert order_list(steps, order, lower, zero) == expected


def test_uneven_steps_lower_the_final_order_without_touching_the_config() -> None:
    scheduler = DPMSolverSinglestepScheduler(solver_order=2, final_sigmas_type="sigma_min")
    scheduler.set_timesteps(5)
    assert scheduler.order_list == (1, 2, 1, 2, 1)
    assert scheduler.config["lower_order_final"] is False


def test_third_order_heun_is_exact_for_quadratic_data_prediction() -> None:
    """DPM-Solver-3 with Taylor D1, D2 integrates a quadratic x0(lambda) exactly."""
    levels = tuple(level(s) for s in (6.0, 2.5, 1.0, 0.4))
    x0 = lambda lam: 0.3 + 0.2 * lam - 0.15 * lam**2  # noqa: E731
    update = singlestep_update("dpmsolver++", "heun", levels, 2, 3)
    start, t = levels[0], levels[3]
    x_s = -0.7
    integral = simpson(lambda lam: t.sigma * math.exp(lam) * x0(lam), start.lam, t.lam)
    exact = t.sigma / start.sigma * x_s + integral
    outputs = [x0(levels[2].lam), x0(levels[1].lam), x0(levels[0].lam)]
    got = update.sample * x_s + sum(w * m for w, m in zip(update.outputs, outputs))
    assert got == pytest.approx(exact, rel=1e-9)
