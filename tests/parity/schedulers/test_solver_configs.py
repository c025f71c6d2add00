"""Configs of the DPM-Solver / UniPC / DEIS schedulers move between us and the reference."""

from __future__ import annotations

import math
from typing import Any

import pytest
from diffusekit_schedulers.deis_multistep import DEISMultistepScheduler
from diffusekit_schedulers.dpmsolver_multistep import DPMSolverMultistepScheduler
from diffusekit_schedulers.dpmsolver_singlestep import DPMSolverSinglestepScheduler
from diffusekit_schedulers.unipc_multistep import UniPCMultistepScheduler

from ._trajectory import reference_class

OURS = {
    cls.__name__: cls
    for cls in (
        DPMSolverMultistepScheduler,
        DPMSolverSinglestepScheduler,
        UniPCMultistepScheduler,
        DEISMultistepScheduler,
    )
}

EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("DPMSolverMultistepScheduler", {}),
    (
        "DPMSolverMultistepScheduler",
        {
            "algorithm_type": "sde-dpmsolver++",
            "solver_type": "heun",
            "solver_order": 3,
            "use_karras_sigmas": True,
            "beta_schedule": "scaled_linear",
            "beta_start": 0.00085,
            "beta_end": 0.012,
            "lambda_min_clipped": -5.1,
            "variance_type": "learned_range",
        },
    ),
    (
        "DPMSolverSinglestepScheduler",
        {"algorithm_type": "dpmsolver", "final_sigmas_type": "sigma_min"},
    ),
    ("UniPCMultistepScheduler", {}),
    (
        "UniPCMultistepScheduler",
        {"solver_type": "bh1", "disable_corrector": [0, 2], "predict_x0": False},
    ),
    ("DEISMultistepScheduler", {"solver_order": 3, "timestep_spacing": "trailing"}),
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isinf(a):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b))


def _assert_configs_agree(ours: Any, theirs: Any) -> None:
    public = {k: v for k, v in theirs.config.items() if not k.startswith("_")}
    assert set(public) <= set(ours.config), sorted(set(public) - set(ours.config))
    for key, value in public.items():
        assert _same(ours.config[key], value), (
            f"{key}: ours {ours.config[key]!r}, reference {value!r}"
        )


@pytest.mark.parametrize(("name", "config"), EXAMPLES)
def test_reference_config_loads_in_ours(tmp_path, name: str, config: dict) -> None:
    theirs = reference_class(name)(**config)
    theirs.save_config(tmp_path)
    ours = OURS[name].from_pretrained(tmp_path)
    _assert_configs_agree(ours, theirs)
    ours.set_timesteps(9)
    theirs.set_timesteps(9)
    assert ours.timesteps.tolist() == theirs.timesteps.tolist()


@pytest.mark.parametrize(("name", "config"), EXAMPLES)
def test_our_config_loads_in_reference(tmp_path, name: str, config: dict) -> None:
    ours = OURS[name](**config)
    ours.save_config(tmp_path)
    theirs = reference_class(name).from_pretrained(tmp_path)
    _assert_configs_agree(ours, theirs)
    assert _same(ours.config["solver_order"], theirs.config.solver_order)


DEIS = {"algorithm_type": "deis", "solver_type": "logrho"}
# The reference checks final_sigmas_type before mapping "deis" to "dpmsolver++", so a DEIS
# config only swaps into its DPM-Solvers with final_sigmas_type="sigma_min" given.
SIGMA_MIN = {"final_sigmas_type": "sigma_min"}
SWAPS = [
    (
        "DPMSolverMultistepScheduler",
        {"solver_type": "heun", "solver_order": 3},
        "DEISMultistepScheduler",
        {},
    ),
    ("DEISMultistepScheduler", DEIS, "DPMSolverMultistepScheduler", SIGMA_MIN),
    ("DEISMultistepScheduler", DEIS, "DPMSolverSinglestepScheduler", SIGMA_MIN),
    ("DEISMultistepScheduler", DEIS, "UniPCMultistepScheduler", {}),
    ("UniPCMultistepScheduler", {"solver_type": "bh1"}, "DPMSolverMultistepScheduler", {}),
    ("DPMSolverMultistepScheduler", {"solver_type": "heun"}, "UniPCMultistepScheduler", {}),
]


@pytest.mark.parametrize(("source", "config", "target", "overrides"), SWAPS)
def test_swapping_schedulers_maps_choices_like_the_reference(
    source: str, config: dict, target: str, overrides: dict
) -> None:
    ours = OURS[target].from_config(OURS[source](**config).config, **overrides)
    theirs = reference_class(target).from_config(
        reference_class(source)(**config).config, **overrides
    )
    _assert_configs_agree(ours, theirs)


def test_deis_config_swaps_into_dpmsolver_with_default_final_sigma() -> None:
    """Where the reference raises, ours maps deis to dpmsolver++ first (which allows zero)."""
    ours = DPMSolverMultistepScheduler.from_config(DEISMultistepScheduler(**DEIS).config)
    assert ours.config["algorithm_type"] == "dpmsolver++"
    assert ours.config["final_sigmas_type"] == "zero"
