"""PNDM and iPNDM against the reference."""

from __future__ import annotations

import pytest
from diffusekit_schedulers.ipndm import IPNDMScheduler
from diffusekit_schedulers.pndm import PNDMScheduler

from ._trajectory import compare, reference_class


@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear", "squaredcos_cap_v2"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("timestep_spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("skip_prk_steps", [False, True])
def test_pndm_trajectory(
    beta_schedule: str, prediction_type: str, timestep_spacing: str, skip_prk_steps: bool
) -> None:
    config = {
        "beta_schedule": beta_schedule,
        "prediction_type": prediction_type,
        "timestep_spacing": timestep_spacing,
        "skip_prk_steps": skip_prk_steps,
        "steps_offset": 1,
    }
    compare(PNDMScheduler, reference_class("PNDMScheduler"), config, {"num_inference_steps": 10})


@pytest.mark.parametrize("set_alpha_to_one", [False, True])
def test_pndm_final_alpha(set_alpha_to_one: bool) -> None:
    config = {"set_alpha_to_one": set_alpha_to_one, "skip_prk_steps": True}
    compare(PNDMScheduler, reference_class("PNDMScheduler"), config, {"num_inference_steps": 6})


def test_pndm_trained_betas() -> None:
    config = {"trained_betas": [1e-4 + 2e-4 * i for i in range(100)], "num_train_timesteps": 100}
    compare(PNDMScheduler, reference_class("PNDMScheduler"), config, {"num_inference_steps": 8})


@pytest.mark.parametrize("steps", [1, 2, 3, 5, 12])
def test_ipndm_trajectory(steps: int) -> None:
    compare(IPNDMScheduler, reference_class("IPNDMScheduler"), {}, {"num_inference_steps": steps})


def test_pndm_add_noise() -> None:
    import torch

    from ._trajectory import fixed_tensor

    mine, theirs = PNDMScheduler(), reference_class("PNDMScheduler")()
    x0, noise, t = fixed_tensor(1), fixed_tensor(2), torch.tensor([0, 500])
    torch.testing.assert_close(mine.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t))
