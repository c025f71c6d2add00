"""DEISMultistepScheduler without the reference: validation, forks, log-rho quadrature."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
from diffusekit_schedulers._multistep import level
from diffusekit_schedulers.deis_multistep import DEISMultistepScheduler, deis_update
from diffusekit_schedulers.testing import SchedulerConformance

from diffusekit.errors import ConfigError

from ._solver_contract import SolverContract
from ._solvers import simpson


class TestContract(SolverContract):
    scheduler_class = DEISMultistepScheduler
    registry_name = "DEISMultistepScheduler"


class TestConformance(SchedulerConformance):
    scheduler_class = DEISMultistepScheduler
    config: ClassVar[dict[str, Any]] = {"solver_order": 3}


def test_dpm_choices_map_to_deis() -> None:
    scheduler = DEISMultistepScheduler(algorithm_type="dpmsolver++", solver_type="heun")
    assert scheduler.config["algorithm_type"] == "deis"
    assert scheduler.config["solver_type"] == "logrho"
    with pytest.raises(ConfigError, match="algorithm_type"):
        DEISMultistepScheduler(algorithm_type="sde-dpmsolver++")


@pytest.mark.parametrize("order", [1, 2, 3])
def test_exact_for_eps_polynomial_in_log_rho(order: int) -> None:
    """Order k integrates eps(rho) = p(log rho), deg p < k, exactly (Zhang & Chen, eq. 14)."""
    levels = tuple(level(s) for s in (7.0, 3.0, 1.3, 0.5))
    coefficients = [0.4, -0.3, 0.2][:order]
    eps = lambda rho: sum(c * math.log(rho) ** n for n, c in enumerate(coefficients))  # noqa: E731
    i = 2
    update = deis_update(levels, i, order)
    rho = [lv.sigma / lv.alpha for lv in levels]
    s, t = levels[i], levels[i + 1]
    x_s = 0.9
    exact = t.alpha * (x_s / s.alpha + simpson(eps, rho[i], rho[i + 1]))
    outputs = [eps(rho[i - j]) for j in range(order)]
    got = update.sample * x_s + sum(w * m for w, m in zip(update.outputs, outputs))
    assert got == pytest.approx(exact, rel=1e-9)
