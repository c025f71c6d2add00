"""Score-SDE VE (predictor-corrector), Score-SDE VP and Karras VE against the reference, driven
the way their pipelines drive them."""

from __future__ import annotations

import pytest
import torch
from diffusekit_schedulers.karras_ve import KarrasVeScheduler
from diffusekit_schedulers.score_sde_ve import ScoreSdeVeScheduler
from diffusekit_schedulers.score_sde_vp import ScoreSdeVpScheduler

from ._trajectory import fake_model, fixed_tensor, reference_class

CLOSE = {"rtol": 1e-5, "atol": 1e-5}


def run_sde_ve(scheduler, steps: int, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    scheduler.set_timesteps(steps)
    scheduler.set_sigmas(steps)
    sample = fixed_tensor(0) * scheduler.init_noise_sigma
    seen = [
        scheduler.sigmas.clone(),
        scheduler.discrete_sigmas.clone(),
        scheduler.timesteps.clone(),
    ]
    for i, t in enumerate(scheduler.timesteps):
        sigma_t = scheduler.sigmas[i]
        for _ in range(scheduler.config.correct_steps):
            out = fake_model(sample, sigma_t)
            sample = scheduler.step_correct(out, sample, generator=generator).prev_sample
            seen.append(sample)
        out = fake_model(sample, sigma_t)
        result = scheduler.step_pred(out, t, sample, generator=generator)
        sample = result.prev_sample
        seen += [result.prev_sample, result.prev_sample_mean]
    return seen


@pytest.mark.parametrize(
    "config", [{}, {"snr": 0.3, "correct_steps": 2, "sigma_max": 50.0, "sampling_eps": 1e-3}]
)
def test_score_sde_ve(config: dict) -> None:
    ours = run_sde_ve(ScoreSdeVeScheduler(**config), 6)
    theirs = run_sde_ve(reference_class("ScoreSdeVeScheduler")(**config), 6)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        torch.testing.assert_close(a, b, **CLOSE, msg=lambda m, i=i: f"item {i}: {m}")


def test_score_sde_ve_add_noise() -> None:
    ours, theirs = ScoreSdeVeScheduler(), reference_class("ScoreSdeVeScheduler")()
    x0, noise, t = fixed_tensor(1), fixed_tensor(2), torch.tensor([3, 1500])
    torch.testing.assert_close(ours.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t))
    assert ours.init_noise_sigma == theirs.init_noise_sigma


def run_sde_vp(scheduler, steps: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    scheduler.set_timesteps(steps)
    x = fixed_tensor(0)
    seen = [scheduler.timesteps.clone()]
    for t in scheduler.timesteps:
        score = fake_model(x, t * 1000)
        x, x_mean = scheduler.step_pred(score, x, t, generator)
        seen += [x, x_mean]
    return seen


@pytest.mark.parametrize("config", [{}, {"beta_min": 0.2, "beta_max": 10.0, "sampling_eps": 1e-2}])
def test_score_sde_vp(config: dict) -> None:
    ours = run_sde_vp(ScoreSdeVpScheduler(**config), 7)
    theirs = run_sde_vp(reference_class("ScoreSdeVpScheduler")(**config), 7)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        torch.testing.assert_close(a, b, **CLOSE, msg=lambda m, i=i: f"item {i}: {m}")


def karras_model(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A stable fake: x0 = x + sigma * out is a tenth of x plus a fixed image."""
    return (0.1 * fake_model(x / (1 + sigma), sigma) - 0.9 * x) / sigma


def run_karras_ve(scheduler, steps: int) -> list[torch.Tensor]:
    """The reference KarrasVePipeline's loop."""
    generator = torch.Generator().manual_seed(5)
    scheduler.set_timesteps(steps)
    sample = fixed_tensor(0) * scheduler.init_noise_sigma
    seen = [scheduler.schedule.clone(), scheduler.timesteps.clone()]
    for t in scheduler.timesteps:
        sigma = scheduler.schedule[t]
        sigma_prev = scheduler.schedule[t - 1] if t > 0 else 0
        sample_hat, sigma_hat = scheduler.add_noise_to_input(sample, sigma, generator=generator)
        out = karras_model(sample_hat, sigma_hat)
        result = scheduler.step(out, sigma_hat, sigma_prev, sample_hat)
        if sigma_prev != 0:
            out = karras_model(result.prev_sample, sigma_prev)
            result = scheduler.step_correct(
                out, sigma_hat, sigma_prev, sample_hat, result.prev_sample, result.derivative
            )
        sample = result.prev_sample
        seen += [sample, result.derivative]
    return seen


@pytest.mark.parametrize(
    "config", [{}, {"s_churn": 10.0, "s_min": 0.5, "s_max": 20.0, "sigma_max": 40.0}]
)
def test_karras_ve(config: dict) -> None:
    ours = run_karras_ve(KarrasVeScheduler(**config), 6)
    theirs = run_karras_ve(reference_class("KarrasVeScheduler")(**config), 6)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        torch.testing.assert_close(
            torch.as_tensor(a).double(),
            torch.as_tensor(b).double(),
            **CLOSE,
            msg=lambda m, i=i: f"item {i}: {m}",
        )
