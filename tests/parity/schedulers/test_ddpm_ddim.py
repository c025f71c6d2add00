"""DDPM and DDIM against the reference: whole trajectories over a grid of options."""

from __future__ import annotations

import pytest
import torch
from diffusekit_schedulers.ddim import DDIMScheduler
from diffusekit_schedulers.ddpm import DDPMScheduler

from ._trajectory import compare, fixed_tensor, reference_class

SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2"]
PREDICTIONS = ["epsilon", "v_prediction", "sample"]
SPACINGS = ["leading", "trailing", "linspace"]


@pytest.mark.parametrize("beta_schedule", SCHEDULES)
@pytest.mark.parametrize("prediction_type", PREDICTIONS)
@pytest.mark.parametrize("timestep_spacing", SPACINGS)
def test_ddim_trajectory(beta_schedule: str, prediction_type: str, timestep_spacing: str) -> None:
    config = {
        "beta_schedule": beta_schedule,
        "prediction_type": prediction_type,
        "timestep_spacing": timestep_spacing,
        "steps_offset": 1 if timestep_spacing == "leading" else 0,
    }
    compare(DDIMScheduler, reference_class("DDIMScheduler"), config, {"num_inference_steps": 10})


@pytest.mark.parametrize(
    "config",
    [
        {"thresholding": True, "sample_max_value": 2.0, "clip_sample": False},
        {"clip_sample": True, "clip_sample_range": 0.5},
        {"set_alpha_to_one": False, "clip_sample": False},
        {
            "rescale_betas_zero_snr": True,
            "timestep_spacing": "trailing",
            "prediction_type": "v_prediction",
        },
        {"trained_betas": torch.linspace(1e-4, 0.03, 100).tolist(), "num_train_timesteps": 100},
    ],
)
@pytest.mark.parametrize(
    "step_kwargs", [{}, {"eta": 1.0}, {"eta": 0.5, "use_clipped_model_output": True}]
)
def test_ddim_options(config: dict, step_kwargs: dict) -> None:
    compare(
        DDIMScheduler,
        reference_class("DDIMScheduler"),
        config,
        {"num_inference_steps": 7},
        step_kwargs,
    )


def test_ddim_variance_noise_is_used() -> None:
    noise = fixed_tensor(7)
    step_kwargs = {"eta": 1.0, "variance_noise": noise}
    compare(
        DDIMScheduler,
        reference_class("DDIMScheduler"),
        {},
        {"num_inference_steps": 5},
        step_kwargs,
        seed=None,
    )


@pytest.mark.parametrize("beta_schedule", [*SCHEDULES, "sigmoid"])
@pytest.mark.parametrize("prediction_type", PREDICTIONS)
@pytest.mark.parametrize("timestep_spacing", SPACINGS)
def test_ddpm_trajectory(beta_schedule: str, prediction_type: str, timestep_spacing: str) -> None:
    config = {
        "beta_schedule": beta_schedule,
        "prediction_type": prediction_type,
        "timestep_spacing": timestep_spacing,
    }
    compare(DDPMScheduler, reference_class("DDPMScheduler"), config, {"num_inference_steps": 10})


@pytest.mark.parametrize(
    "variance_type", ["fixed_small", "fixed_small_log", "fixed_large", "learned_range"]
)
@pytest.mark.parametrize("thresholding", [False, True])
def test_ddpm_variances(variance_type: str, thresholding: bool) -> None:
    config = {
        "variance_type": variance_type,
        "thresholding": thresholding,
        "rescale_betas_zero_snr": thresholding,
    }
    channels = 6 if variance_type.startswith("learned") else None
    compare(
        DDPMScheduler,
        reference_class("DDPMScheduler"),
        config,
        {"num_inference_steps": 8},
        channels_out=channels,
    )


def test_ddpm_custom_timesteps() -> None:
    custom = {"timesteps": [900, 700, 420, 100, 3, 0]}
    compare(DDPMScheduler, reference_class("DDPMScheduler"), {}, custom)


def test_ddpm_without_set_timesteps_steps_through_training_schedule() -> None:
    config = {"num_train_timesteps": 12}
    ours, theirs = DDPMScheduler(**config), reference_class("DDPMScheduler")(**config)
    torch.testing.assert_close(ours.timesteps, theirs.timesteps)
    sample = fixed_tensor(0)
    for t in (11, 5, 0):
        a = ours.step(
            fake_output := fixed_tensor(t + 1),
            t,
            sample,
            generator=torch.Generator().manual_seed(t),
        )
        b = theirs.step(fake_output, t, sample, generator=torch.Generator().manual_seed(t))
        torch.testing.assert_close(a.prev_sample, b.prev_sample, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["DDPMScheduler", "DDIMScheduler"])
def test_add_noise(name: str) -> None:
    ours = {"DDPMScheduler": DDPMScheduler, "DDIMScheduler": DDIMScheduler}[name](
        beta_schedule="scaled_linear"
    )
    theirs = reference_class(name)(beta_schedule="scaled_linear")
    x0, noise = fixed_tensor(1), fixed_tensor(2)
    t = torch.tensor([10, 999])
    torch.testing.assert_close(ours.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t))
