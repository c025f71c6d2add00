"""Euler (deterministic and with churn) against the reference."""

from __future__ import annotations

import pytest
from diffusekit_schedulers.euler_discrete import EulerDiscreteScheduler

from ._trajectory import compare, reference_class

REFERENCE = "EulerDiscreteScheduler"


@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear", "squaredcos_cap_v2"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("timestep_spacing", ["leading", "trailing", "linspace"])
def test_trajectory(beta_schedule: str, prediction_type: str, timestep_spacing: str) -> None:
    config = {
        "beta_schedule": beta_schedule,
        "prediction_type": prediction_type,
        "timestep_spacing": timestep_spacing,
        "steps_offset": 1,
    }
    compare(EulerDiscreteScheduler, reference_class(REFERENCE), config, {"num_inference_steps": 10})


@pytest.mark.parametrize(
    "config",
    [
        {"use_karras_sigmas": True},
        {"use_karras_sigmas": True, "sigma_min": 0.1, "sigma_max": 10.0},
        {"use_exponential_sigmas": True},
        {"use_beta_sigmas": True},
        {"final_sigmas_type": "sigma_min"},
        {"interpolation_type": "log_linear"},
        {"rescale_betas_zero_snr": True, "timestep_spacing": "trailing"},
        {"timestep_type": "continuous", "prediction_type": "v_prediction"},
    ],
)
def test_options(config: dict) -> None:
    compare(EulerDiscreteScheduler, reference_class(REFERENCE), config, {"num_inference_steps": 8})


@pytest.mark.parametrize(
    "custom",
    [
        {"timesteps": [999.0, 800.0, 512.5, 300.0, 20.0]},
        {"sigmas": [14.0, 7.0, 3.0, 1.0, 0.3, 0.0]},
    ],
)
def test_custom_schedules(custom: dict) -> None:
    compare(EulerDiscreteScheduler, reference_class(REFERENCE), {}, custom)


@pytest.mark.parametrize(
    "churn", [{"s_churn": 1.0}, {"s_churn": 0.5, "s_tmin": 0.5, "s_tmax": 5.0, "s_noise": 1.003}]
)
def test_churn(churn: dict) -> None:
    compare(
        EulerDiscreteScheduler, reference_class(REFERENCE), {}, {"num_inference_steps": 6}, churn
    )


def test_add_noise() -> None:
    import torch

    from ._trajectory import fixed_tensor

    mine, theirs = EulerDiscreteScheduler(), reference_class(REFERENCE)()
    for scheduler in (mine, theirs):
        scheduler.set_timesteps(9)
    x0, noise = fixed_tensor(1), fixed_tensor(2)
    t = theirs.timesteps[[0, 5]]
    torch.testing.assert_close(mine.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t))
