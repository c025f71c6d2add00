"""DEISMultistepScheduler against the reference: whole trajectories on the fake model."""

from __future__ import annotations

import pytest
from diffusekit_schedulers.deis_multistep import DEISMultistepScheduler

from ._solver_parity import compare_solver

REFERENCE = "DEISMultistepScheduler"


def _compare(config: dict, steps: int) -> None:
    compare_solver(
        DEISMultistepScheduler,
        REFERENCE,
        config,
        {"num_inference_steps": steps},
        seed=None,
    )


@pytest.mark.parametrize("steps", [5, 12, 20])
@pytest.mark.parametrize("solver_order", [1, 2, 3])
@pytest.mark.parametrize("lower_order_final", [True, False])
def test_orders(solver_order: int, lower_order_final: bool, steps: int) -> None:
    _compare({"solver_order": solver_order, "lower_order_final": lower_order_final}, steps)


@pytest.mark.parametrize(
    "config",
    [
        {"use_karras_sigmas": True, "solver_order": 3},
        {"use_exponential_sigmas": True},
        {"prediction_type": "v_prediction", "timestep_spacing": "trailing"},
        {"prediction_type": "sample"},
        {"prediction_type": "sample", "thresholding": True, "sample_max_value": 1.5},
        {"timestep_spacing": "leading", "steps_offset": 1},
        {"beta_schedule": "squaredcos_cap_v2", "solver_order": 3},
        {"beta_schedule": "scaled_linear", "solver_order": 3},
    ],
)
@pytest.mark.parametrize("steps", [6, 16])
def test_options(config: dict, steps: int) -> None:
    _compare(config, steps)
