"""LMS, Euler ancestral, Heun, KDPM2 and KDPM2 ancestral against the reference."""

from __future__ import annotations

import importlib

import pytest

from ._trajectory import compare, reference_class

MODULES = {
    "LMSDiscreteScheduler": "lms_discrete",
    "EulerAncestralDiscreteScheduler": "euler_ancestral_discrete",
    "HeunDiscreteScheduler": "heun_discrete",
    "KDPM2DiscreteScheduler": "k_dpm_2_discrete",
    "KDPM2AncestralDiscreteScheduler": "k_dpm_2_ancestral_discrete",
}
NAMES = list(MODULES)
NO_SAMPLE_PREDICTION = {
    "EulerAncestralDiscreteScheduler",
    "KDPM2DiscreteScheduler",
    "KDPM2AncestralDiscreteScheduler",
}
HAS_SIGMA_RAMPS = {
    "LMSDiscreteScheduler",
    "HeunDiscreteScheduler",
    "KDPM2DiscreteScheduler",
    "KDPM2AncestralDiscreteScheduler",
}


def ours(name: str) -> type:
    return getattr(importlib.import_module(f"diffusekit_schedulers.{MODULES[name]}"), name)


def predictions(name: str) -> list[str]:
    return ["epsilon", "v_prediction"] + ([] if name in NO_SAMPLE_PREDICTION else ["sample"])


GRID = [
    (name, schedule, prediction, spacing)
    for name in NAMES
    for schedule in ("linear", "scaled_linear", "squaredcos_cap_v2")
    for prediction in predictions(name)
    for spacing in ("leading", "trailing", "linspace")
]


@pytest.mark.parametrize(("name", "beta_schedule", "prediction_type", "timestep_spacing"), GRID)
def test_trajectory(
    name: str, beta_schedule: str, prediction_type: str, timestep_spacing: str
) -> None:
    config = {
        "beta_schedule": beta_schedule,
        "prediction_type": prediction_type,
        "timestep_spacing": timestep_spacing,
        "steps_offset": 1,
    }
    compare(ours(name), reference_class(name), config, {"num_inference_steps": 7})


@pytest.mark.parametrize("name", sorted(HAS_SIGMA_RAMPS))
@pytest.mark.parametrize("ramp", ["use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"])
def test_sigma_ramps(name: str, ramp: str) -> None:
    compare(
        ours(name),
        reference_class(name),
        {ramp: True, "beta_schedule": "scaled_linear"},
        {"num_inference_steps": 6},
    )


@pytest.mark.parametrize("name", NAMES)
def test_trained_betas(name: str) -> None:
    betas = [0.0001 + 0.0002 * i for i in range(100)]
    compare(
        ours(name),
        reference_class(name),
        {"trained_betas": betas, "num_train_timesteps": 100},
        {"num_inference_steps": 5},
    )


def test_euler_ancestral_zero_snr() -> None:
    name = "EulerAncestralDiscreteScheduler"
    config = {
        "rescale_betas_zero_snr": True,
        "timestep_spacing": "trailing",
        "prediction_type": "v_prediction",
    }
    compare(ours(name), reference_class(name), config, {"num_inference_steps": 6})


def test_heun_clip_and_custom_timesteps() -> None:
    name = "HeunDiscreteScheduler"
    compare(
        ours(name),
        reference_class(name),
        {"clip_sample": True, "clip_sample_range": 0.8},
        {"num_inference_steps": 5},
    )
    compare(ours(name), reference_class(name), {}, {"timesteps": [999.0, 700.0, 300.5, 50.0]})


def test_heun_exp_schedule() -> None:
    name = "HeunDiscreteScheduler"
    compare(ours(name), reference_class(name), {"beta_schedule": "exp"}, {"num_inference_steps": 5})


@pytest.mark.parametrize("order", [1, 2, 3])
def test_lms_orders(order: int) -> None:
    name = "LMSDiscreteScheduler"
    compare(
        ours(name),
        reference_class(name),
        {},
        {"num_inference_steps": 6},
        {"order": order},
        seed=None,
    )


@pytest.mark.parametrize("name", NAMES)
def test_add_noise_and_begin_index(name: str) -> None:
    import torch

    from ._trajectory import fixed_tensor

    mine, theirs = ours(name)(), reference_class(name)()
    for scheduler in (mine, theirs):
        scheduler.set_timesteps(8)
    x0, noise = fixed_tensor(1), fixed_tensor(2)
    t = theirs.timesteps[[2, 4]]
    torch.testing.assert_close(mine.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t))
    mine.set_begin_index(2)
    theirs.set_begin_index(2)
    t = theirs.timesteps[2:3]
    torch.testing.assert_close(mine.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t))
