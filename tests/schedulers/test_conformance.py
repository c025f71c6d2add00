"""Every scheduler of the plugin through the shared conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from diffusekit_schedulers.ddim import DDIMScheduler
from diffusekit_schedulers.ddpm import DDPMScheduler
from diffusekit_schedulers.euler_ancestral_discrete import EulerAncestralDiscreteScheduler
from diffusekit_schedulers.euler_discrete import EulerDiscreteScheduler
from diffusekit_schedulers.heun_discrete import HeunDiscreteScheduler
from diffusekit_schedulers.ipndm import IPNDMScheduler
from diffusekit_schedulers.k_dpm_2_ancestral_discrete import KDPM2AncestralDiscreteScheduler
from diffusekit_schedulers.k_dpm_2_discrete import KDPM2DiscreteScheduler
from diffusekit_schedulers.karras_ve import KarrasVeScheduler
from diffusekit_schedulers.lms_discrete import LMSDiscreteScheduler
from diffusekit_schedulers.pndm import PNDMScheduler
from diffusekit_schedulers.score_sde_ve import ScoreSdeVeScheduler
from diffusekit_schedulers.score_sde_vp import ScoreSdeVpScheduler
from diffusekit_schedulers.testing import SchedulerConformance, fake_model_output


class TestDDPM(SchedulerConformance):
    scheduler_class = DDPMScheduler


class TestDDPMThresholding(SchedulerConformance):
    scheduler_class = DDPMScheduler
    config: ClassVar[dict[str, Any]] = {
        "thresholding": True,
        "prediction_type": "v_prediction",
        "timestep_spacing": "trailing",
    }


class TestDDIM(SchedulerConformance):
    scheduler_class = DDIMScheduler

    def step_kwargs(self, scheduler: Any, seed: int) -> dict[str, Any]:
        return {"eta": 0.5, "generator": torch.Generator().manual_seed(seed)}


class TestPNDM(SchedulerConformance):
    scheduler_class = PNDMScheduler
    expected_num_timesteps = 6 + 9  # 12 pseudo-RK stages replace the first 3 steps


class TestPNDMSkipPRK(SchedulerConformance):
    scheduler_class = PNDMScheduler
    config: ClassVar[dict[str, Any]] = {"skip_prk_steps": True}
    expected_num_timesteps = 7  # the first step is revisited by the second-order start


class TestLMS(SchedulerConformance):
    scheduler_class = LMSDiscreteScheduler


class TestEuler(SchedulerConformance):
    scheduler_class = EulerDiscreteScheduler
    config: ClassVar[dict[str, Any]] = {"use_karras_sigmas": True}

    def step_kwargs(self, scheduler: Any, seed: int) -> dict[str, Any]:
        return {"s_churn": 0.5, "generator": torch.Generator().manual_seed(seed)}


class TestEulerAncestral(SchedulerConformance):
    scheduler_class = EulerAncestralDiscreteScheduler


class TestHeun(SchedulerConformance):
    scheduler_class = HeunDiscreteScheduler


class TestKDPM2(SchedulerConformance):
    scheduler_class = KDPM2DiscreteScheduler


class TestKDPM2Ancestral(SchedulerConformance):
    scheduler_class = KDPM2AncestralDiscreteScheduler


class TestIPNDM(SchedulerConformance):
    scheduler_class = IPNDMScheduler


class TestScoreSdeVe(SchedulerConformance):
    scheduler_class = ScoreSdeVeScheduler
    config: ClassVar[dict[str, Any]] = {"num_train_timesteps": 100, "sigma_max": 20.0}

    def trajectory(self, scheduler: Any, seed: int = 0) -> Iterator[torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        scheduler.set_timesteps(self.num_inference_steps)
        scheduler.set_sigmas(self.num_inference_steps)
        sample = self.initial_sample(scheduler)
        for i, t in enumerate(scheduler.timesteps):
            sigma = scheduler.sigmas[i]
            out = -fake_model_output(sample, sigma) / sigma
            sample = scheduler.step_correct(out, sample, generator=generator).prev_sample
            out = -fake_model_output(sample, sigma) / sigma
            sample = scheduler.step_pred(out, t, sample, generator=generator).prev_sample
            yield sample

    def test_return_dict_false_gives_a_tuple(self) -> None:
        scheduler = self.make()
        scheduler.set_timesteps(3)
        scheduler.set_sigmas(3)
        sample = self.initial_sample(scheduler)
        out = fake_model_output(sample, 1.0)
        pred = scheduler.step_pred(out, scheduler.timesteps[0], sample, return_dict=False)
        assert isinstance(pred, tuple) and len(pred) == 2
        assert isinstance(scheduler.step_correct(out, sample, return_dict=False), tuple)


class TestScoreSdeVp(SchedulerConformance):
    scheduler_class = ScoreSdeVpScheduler

    def trajectory(self, scheduler: Any, seed: int = 0) -> Iterator[torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        scheduler.set_timesteps(self.num_inference_steps)
        x = self.initial_sample(scheduler)
        for t in scheduler.timesteps:
            x, _ = scheduler.step_pred(fake_model_output(x, t), x, t, generator)
            yield x

    def test_return_dict_false_gives_a_tuple(self) -> None:
        scheduler = self.make()
        scheduler.set_timesteps(3)
        x = self.initial_sample(scheduler)
        result = scheduler.step_pred(fake_model_output(x, 0.5), x, scheduler.timesteps[0])
        assert isinstance(result, tuple) and len(result) == 2


class TestKarrasVe(SchedulerConformance):
    scheduler_class = KarrasVeScheduler
    expected_num_timesteps = 6

    def trajectory(self, scheduler: Any, seed: int = 0) -> Iterator[torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        scheduler.set_timesteps(self.num_inference_steps)
        sample = self.initial_sample(scheduler)
        for t in scheduler.timesteps:
            sigma = scheduler.schedule[t]
            sigma_prev = scheduler.schedule[t - 1] if t > 0 else 0
            sample_hat, sigma_hat = scheduler.add_noise_to_input(sample, sigma, generator)
            out = -0.5 * sample_hat / sigma_hat
            result = scheduler.step(out, sigma_hat, sigma_prev, sample_hat)
            if sigma_prev != 0:
                out = -0.5 * result.prev_sample / sigma_prev
                result = scheduler.step_correct(
                    out, sigma_hat, sigma_prev, sample_hat, result.prev_sample, result.derivative
                )
            sample = result.prev_sample
            yield sample

    def test_return_dict_false_gives_a_tuple(self) -> None:
        scheduler = self.make()
        x = self.initial_sample(scheduler)
        result = scheduler.step(-0.5 * x / 10.0, 10.0, 5.0, x, return_dict=False)
        assert isinstance(result, tuple) and len(result) == 2
