"""UniPCMultistepScheduler without the reference: validation, forks, predictor-corrector math."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
from diffusekit_schedulers._multistep import level
from diffusekit_schedulers.testing import SchedulerConformance
from diffusekit_schedulers.unipc_multistep import UniPCMultistepScheduler, unipc_update

from diffusekit.errors import ConfigError

from ._solver_contract import SolverContract
from ._solvers import run


class TestContract(SolverContract):
    scheduler_class = UniPCMultistepScheduler
    registry_name = "UniPCMultistepScheduler"


class TestConformance(SchedulerConformance):
    scheduler_class = UniPCMultistepScheduler
    config: ClassVar[dict[str, Any]] = {"solver_order": 3}


class TestConformanceNoisePrediction(SchedulerConformance):
    scheduler_class = UniPCMultistepScheduler
    config: ClassVar[dict[str, Any]] = {
        "predict_x0": False,
        "solver_type": "bh1",
        "final_sigmas_type": "sigma_min",
    }


def test_solver_p_is_refused() -> None:
    with pytest.raises(ConfigError, match="solver_p"):
        UniPCMultistepScheduler(solver_p=UniPCMultistepScheduler())


def test_dpm_solver_types_map_to_bh2() -> None:
    assert UniPCMultistepScheduler(solver_type="midpoint").config["solver_type"] == "bh2"
    with pytest.raises(ConfigError, match="solver_type"):
        UniPCMultistepScheduler(solver_type="bh3")


@pytest.mark.parametrize("solver_type", ["bh1", "bh2"])
@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("corrector", [False, True])
def test_constant_outputs_give_the_first_order_solution(
    solver_type: str, order: int, corrector: bool
) -> None:
    """With every output equal, the differences D_k vanish: UniP and UniC reduce to DDIM
    (and UniC's own weight on m_t - m_0 multiplies zero)."""
    levels = tuple(level(s) for s in (9.0, 4.0, 2.0, 0.8, 0.2))
    start = 3
    update = unipc_update(levels, start, order, True, solver_type, corrector)
    first = unipc_update(levels, start, 1, True, solver_type, False)
    x_s, m = 1.3, -0.4
    got = update.sample * x_s + sum(update.outputs) * m
    want = first.sample * x_s + sum(first.outputs) * m
    assert got == pytest.approx(want, rel=1e-12)


def test_disable_corrector_changes_only_the_disabled_steps() -> None:
    full = run(UniPCMultistepScheduler(), 6)
    partial = run(UniPCMultistepScheduler(disable_corrector=[3]), 6)
    for i in range(4):
        assert torch.equal(full[i], partial[i])
    assert not torch.equal(full[4], partial[4])


def test_bh1_reaches_sigma_zero_finitely() -> None:
    """The reference returns NaN here (B(h) = -inf times 0); the limit is x0."""
    samples = run(UniPCMultistepScheduler(solver_type="bh1"), 5)
    assert torch.isfinite(samples[-1]).all()
