"""UniPCMultistepScheduler against the reference: whole trajectories on the fake model."""

from __future__ import annotations

import itertools

import pytest
from diffusekit_schedulers.unipc_multistep import UniPCMultistepScheduler

from ._solver_parity import compare_solver

REFERENCE = "UniPCMultistepScheduler"


def _compare(config: dict, steps: int) -> None:
    compare_solver(
        UniPCMultistepScheduler,
        REFERENCE,
        config,
        {"num_inference_steps": steps},
        seed=None,
    )


@pytest.mark.parametrize("steps", [5, 12])
@pytest.mark.parametrize(
    ("predict_x0", "solver_type", "solver_order", "lower_order_final"),
    list(itertools.product([True, False], ["bh1", "bh2"], [1, 2, 3], [True, False])),
)
def test_solvers(
    predict_x0: bool, solver_type: str, solver_order: int, lower_order_final: bool, steps: int
) -> None:
    config = {
        "predict_x0": predict_x0,
        "solver_type": solver_type,
        "solver_order": solver_order,
        "lower_order_final": lower_order_final,
    }
    if solver_type == "bh1" or not predict_x0 or not lower_order_final:
        # bh1 and noise prediction are not finite at sigma = 0 (the reference returns NaN).
        config["final_sigmas_type"] = "sigma_min"
    _compare(config, steps)


@pytest.mark.parametrize(
    "config",
    [
        {"disable_corrector": [0, 1, 3]},
        {"disable_corrector": [2], "solver_order": 3},
        {"use_karras_sigmas": True},
        {"use_karras_sigmas": True, "solver_order": 3, "final_sigmas_type": "sigma_min"},
        {"use_karras_sigmas": True, "sigma_min": 0.1, "sigma_max": 20.0},
        {"use_exponential_sigmas": True},
        {"use_beta_sigmas": True, "final_sigmas_type": "sigma_min"},
        {"prediction_type": "v_prediction", "timestep_spacing": "trailing"},
        {"prediction_type": "sample"},
        {"prediction_type": "sample", "thresholding": True, "sample_max_value": 1.5},
        {"timestep_spacing": "leading", "steps_offset": 1},
        {"beta_schedule": "squaredcos_cap_v2", "solver_order": 3},
        {
            "rescale_betas_zero_snr": True,
            "timestep_spacing": "trailing",
            "prediction_type": "v_prediction",
        },
    ],
)
@pytest.mark.parametrize("steps", [6, 16])
def test_options(config: dict, steps: int) -> None:
    _compare(config, steps)
