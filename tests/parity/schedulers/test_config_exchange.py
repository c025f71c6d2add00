"""Configs move between the reference and diffusekit: from_config both ways, and
scheduler_config.json files written by either library load in the other with equal results."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from ._trajectory import assert_same, reference_class, run

MODULES = {
    "DDPMScheduler": "ddpm",
    "DDIMScheduler": "ddim",
    "PNDMScheduler": "pndm",
    "LMSDiscreteScheduler": "lms_discrete",
    "EulerDiscreteScheduler": "euler_discrete",
    "EulerAncestralDiscreteScheduler": "euler_ancestral_discrete",
    "HeunDiscreteScheduler": "heun_discrete",
    "KDPM2DiscreteScheduler": "k_dpm_2_discrete",
    "KDPM2AncestralDiscreteScheduler": "k_dpm_2_ancestral_discrete",
}
NAMES = list(MODULES)
CONFIG = {
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "steps_offset": 1,
}


def ours(name: str) -> type:
    return getattr(importlib.import_module(f"diffusekit_schedulers.{MODULES[name]}"), name)


@pytest.mark.parametrize("source", NAMES)
@pytest.mark.parametrize("target", NAMES)
def test_reference_config_loads_in_ours(source: str, target: str) -> None:
    theirs = reference_class(source)(**CONFIG)
    mine = ours(target).from_config(theirs.config)
    expected = reference_class(target).from_config(theirs.config)
    assert_same(run(mine, {"num_inference_steps": 5}), run(expected, {"num_inference_steps": 5}))


@pytest.mark.parametrize("source", NAMES)
@pytest.mark.parametrize("target", NAMES)
def test_our_config_loads_in_the_reference(source: str, target: str) -> None:
    mine = ours(source)(**CONFIG)
    theirs = reference_class(target).from_config(dict(mine.config))
    expected = ours(target).from_config(mine.config)
    assert_same(run(expected, {"num_inference_steps": 5}), run(theirs, {"num_inference_steps": 5}))


@pytest.mark.parametrize("name", NAMES)
def test_file_written_by_reference_loads_in_ours(name: str, tmp_path: Path) -> None:
    reference_class(name)(**CONFIG, prediction_type="v_prediction").save_pretrained(tmp_path)
    mine = ours(name).from_pretrained(tmp_path)
    theirs = reference_class(name).from_pretrained(tmp_path)
    assert mine.config.prediction_type == "v_prediction"
    assert_same(run(mine, {"num_inference_steps": 6}), run(theirs, {"num_inference_steps": 6}))


@pytest.mark.parametrize(
    "name", [*NAMES, "IPNDMScheduler", "ScoreSdeVeScheduler", "KarrasVeScheduler"]
)
def test_file_written_by_ours_loads_in_reference(name: str, tmp_path: Path) -> None:
    module = (
        MODULES.get(name)
        or {
            "IPNDMScheduler": "ipndm",
            "ScoreSdeVeScheduler": "score_sde_ve",
            "KarrasVeScheduler": "karras_ve",
        }[name]
    )
    cls = getattr(importlib.import_module(f"diffusekit_schedulers.{module}"), name)
    mine = cls()
    mine.save_pretrained(tmp_path)
    theirs = reference_class(name).from_pretrained(tmp_path)
    for key, value in theirs.config.items():
        if not key.startswith("_"):
            assert mine.config[key] == value, key


def test_ddim_euler_ddim_through_the_reference_keeps_fields() -> None:
    ddim = ours("DDIMScheduler")(
        clip_sample=False, set_alpha_to_one=False, timestep_spacing="trailing"
    )
    euler = reference_class("EulerDiscreteScheduler").from_config(dict(ddim.config))
    back = ours("DDIMScheduler").from_config(euler.config)
    for field in ("clip_sample", "set_alpha_to_one", "timestep_spacing"):
        assert back.config[field] == ddim.config[field], field
