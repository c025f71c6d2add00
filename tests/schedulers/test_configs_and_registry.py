"""Config validation, swapping through from_config, compatibles and registry resolution."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusekit_schedulers.ddim import DDIMScheduler
from diffusekit_schedulers.euler_discrete import EulerDiscreteScheduler
from diffusekit_schedulers.heun_discrete import HeunDiscreteScheduler
from diffusekit_schedulers.ipndm import IPNDMScheduler
from diffusekit_schedulers.karras_ve import KarrasVeScheduler

from diffusekit import registry
from diffusekit.errors import ConfigError
from diffusekit.scheduling import SchedulerConfig, SchedulerMixin

OURS = {
    "DDPMScheduler": ("ddpm", 1, {"generator"}),
    "DDIMScheduler": (
        "ddim",
        1,
        {"eta", "use_clipped_model_output", "generator", "variance_noise"},
    ),
    "PNDMScheduler": ("pndm", 1, set()),
    "LMSDiscreteScheduler": ("lms_discrete", 1, {"order"}),
    "EulerDiscreteScheduler": (
        "euler_discrete",
        1,
        {"s_churn", "s_tmin", "s_tmax", "s_noise", "generator"},
    ),
    "EulerAncestralDiscreteScheduler": ("euler_ancestral_discrete", 1, {"generator"}),
    "HeunDiscreteScheduler": ("heun_discrete", 2, set()),
    "KDPM2DiscreteScheduler": ("k_dpm_2_discrete", 2, set()),
    "KDPM2AncestralDiscreteScheduler": ("k_dpm_2_ancestral_discrete", 2, {"generator"}),
    "IPNDMScheduler": ("ipndm", 1, set()),
    "ScoreSdeVeScheduler": ("score_sde_ve", 1, {"generator"}),
    "ScoreSdeVpScheduler": ("score_sde_vp", 1, {"generator"}),
    "KarrasVeScheduler": ("karras_ve", 2, set()),
}
DISCRETE = [
    n
    for n in OURS
    if n
    not in {"IPNDMScheduler", "ScoreSdeVeScheduler", "ScoreSdeVpScheduler", "KarrasVeScheduler"}
]


def ours(name: str) -> type:
    return getattr(importlib.import_module(f"diffusekit_schedulers.{OURS[name][0]}"), name)


@pytest.mark.parametrize("name", sorted(OURS))
def test_registry_resolves_each_scheduler(name: str) -> None:
    assert registry.resolve("diffusers", name) is ours(name)
    import diffusekit

    assert getattr(diffusekit, name) is ours(name)


@pytest.mark.parametrize("name", sorted(OURS))
def test_declared_order_and_step_options(name: str) -> None:
    cls = ours(name)
    assert cls.order == OURS[name][1]
    assert set(cls.step_options) == OURS[name][2]


def test_bad_beta_schedule_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        DDIMScheduler(beta_schedule="cosine")
    message = str(info.value)
    assert "beta_schedule" in message and "cosine" in message and "DDIMScheduler" in message


def test_schedule_a_class_does_not_support_is_refused() -> None:
    assert HeunDiscreteScheduler(beta_schedule="exp").config.beta_schedule == "exp"
    with pytest.raises(ConfigError, match="beta_schedule"):
        DDIMScheduler(beta_schedule="exp")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prediction_type", "noise"),
        ("timestep_spacing", "uniform"),
        ("num_train_timesteps", "many"),
    ],
)
def test_bad_closed_choices_are_named(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        EulerDiscreteScheduler(**{field: value})


def test_two_sigma_ramps_at_once_are_refused() -> None:
    with pytest.raises(ValueError, match="use_karras_sigmas"):
        EulerDiscreteScheduler(use_karras_sigmas=True, use_exponential_sigmas=True)


@pytest.mark.parametrize(
    "betas",
    [[0.001, 0.002, 0.003], np.array([0.001, 0.002, 0.003]), torch.tensor([0.001, 0.002, 0.003])],
    ids=["list", "numpy", "torch"],
)
def test_trained_betas_are_stored_as_a_list(betas: object, tmp_path: Path) -> None:
    scheduler = DDIMScheduler(trained_betas=betas, num_train_timesteps=3)
    stored = scheduler.config.trained_betas
    assert isinstance(stored, list)
    assert stored == pytest.approx([0.001, 0.002, 0.003])
    torch.testing.assert_close(scheduler.betas, torch.tensor([0.001, 0.002, 0.003]))
    path = scheduler.save_config(tmp_path)
    assert json.loads(path.read_text())["trained_betas"] == stored


@pytest.mark.parametrize("source", DISCRETE)
@pytest.mark.parametrize("target", DISCRETE)
def test_from_config_swaps_every_compatible_pair(source: str, target: str) -> None:
    original = ours(source)(beta_schedule="scaled_linear", prediction_type="v_prediction")
    swapped = ours(target).from_config(original.config)
    assert swapped.config.beta_schedule == "scaled_linear"
    assert swapped.config.prediction_type == "v_prediction"
    back = ours(source).from_config(swapped.config)
    assert {k: v for k, v in back.config.items() if not k.startswith("_")} == {
        k: v for k, v in original.config.items() if not k.startswith("_")
    }


def test_ddim_euler_ddim_keeps_every_field() -> None:
    ddim = DDIMScheduler(
        clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="trailing"
    )
    euler = EulerDiscreteScheduler.from_config(ddim.config, use_karras_sigmas=True)
    assert euler.config.clip_sample is False  # carried along for the next swap
    again = DDIMScheduler.from_config(euler.config)
    for field in ("clip_sample", "set_alpha_to_one", "steps_offset", "timestep_spacing"):
        assert again.config[field] == ddim.config[field]
    assert again.config.use_karras_sigmas is True  # Euler's field is kept too


def test_defaults_of_the_other_class_do_not_leak() -> None:
    """Euler's default timestep_spacing (linspace) must not replace DDIM's default (leading)."""
    euler = EulerDiscreteScheduler()
    assert DDIMScheduler.from_config(euler.config).config.timestep_spacing == "leading"


class ThirdPartyScheduler(SchedulerMixin):
    """A scheduler from an imaginary plugin that joins the discrete-betas family."""

    config_class = SchedulerConfig
    compatibility_families = ("discrete-betas",)


def test_compatibles_lists_installed_and_registered_schedulers() -> None:
    with registry.registered("thirdparty", "ThirdPartyScheduler", ThirdPartyScheduler):
        compatibles = DDIMScheduler().compatibles
        assert ThirdPartyScheduler in compatibles
    names = {cls.__name__ for cls in compatibles}
    assert set(DISCRETE) <= names
    assert "IPNDMScheduler" not in names and "KarrasVeScheduler" not in names
    assert ThirdPartyScheduler not in DDIMScheduler().compatibles


@pytest.mark.parametrize("cls", [IPNDMScheduler, KarrasVeScheduler])
def test_schedulers_of_their_own_family_list_only_themselves(cls: type) -> None:
    assert cls().compatibles == [cls]


def test_karras_ve_config_has_exactly_the_reference_fields() -> None:
    fields = {k for k in KarrasVeScheduler().config if not k.startswith("_")}
    assert fields == {"sigma_min", "sigma_max", "s_noise", "s_churn", "s_min", "s_max"}


def test_set_timesteps_rejects_too_many_steps() -> None:
    with pytest.raises(ValueError, match="num_train_timesteps"):
        DDIMScheduler(num_train_timesteps=10).set_timesteps(11)
