"""ConfigMixin: validation, read-only configs, file I/O and from_config round trips."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Literal

import pytest

from diffusekit import ConfigError, SchedulerConfig, SchedulerMixin
from diffusekit.errors import CheckpointError, DiffusekitWarning


class AlphaConfig(SchedulerConfig):
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = "linear"
    clip_sample: bool = True
    shared: float = 1.0


class BetaConfig(SchedulerConfig):
    timestep_spacing: Literal["leading", "trailing", "linspace"] = "linspace"
    shared: float = 2.0


class Alpha(SchedulerMixin):
    config_class = AlphaConfig
    compatibility_families = ("toy-family",)


class Beta(SchedulerMixin):
    config_class = BetaConfig
    compatibility_families = ("toy-family",)


@pytest.fixture
def toy_family(diffusekit_registry):
    with (
        diffusekit_registry.registered("toylib", "AlphaScheduler", Alpha),
        diffusekit_registry.registered("toylib", "BetaScheduler", Beta),
    ):
        yield


def test_defaults_and_attribute_access():
    config = Alpha(beta_schedule="scaled_linear").config
    assert config.beta_schedule == "scaled_linear" and config["num_train_timesteps"] == 1000
    assert config["_class_name"] == "Alpha"
    assert sorted(config["_use_default_values"]) == ["clip_sample", "num_train_timesteps", "shared"]


def test_config_is_read_only_but_copyable_and_json_serialisable():
    config = Alpha().config
    with pytest.raises(TypeError, match="read-only"):
        config["clip_sample"] = False
    with pytest.raises(TypeError):
        config.clip_sample = False
    assert pickle.loads(pickle.dumps(config)) == config
    assert copy.deepcopy(config) == config
    assert json.loads(json.dumps(config))["beta_schedule"] == "linear"


def test_bad_field_names_field_expected_and_found():
    with pytest.raises(ConfigError) as info:
        Alpha(beta_schedule="cosine")
    message = str(info.value)
    assert (
        "'beta_schedule'" in message and "'squaredcos_cap_v2'" in message and "'cosine'" in message
    )


def test_bad_file_is_named(tmp_path):
    (tmp_path / "scheduler_config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"scheduler_config.json: not valid JSON .*line 1"):
        Alpha.from_pretrained(tmp_path)
    (tmp_path / "scheduler_config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object, found list"):
        Alpha.from_pretrained(tmp_path)
    (tmp_path / "scheduler_config.json").write_text('{"num_train_timesteps": "many"}')
    with pytest.raises(ConfigError) as info:
        Alpha.from_pretrained(tmp_path)
    assert str(tmp_path / "scheduler_config.json") in str(info.value)
    assert "'num_train_timesteps'" in str(info.value) and "'many'" in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"scheduler_config\.json: file not found"):
        Alpha.from_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="neither a local folder nor a valid Hub repo id"):
        Alpha.from_pretrained(tmp_path / "nowhere")


def test_unknown_keys_are_warned_once_kept_and_saved(tmp_path):
    class Gamma(SchedulerMixin):
        config_class = AlphaConfig

    with pytest.warns(DiffusekitWarning, match="mystery_key"):
        first = Gamma(mystery_key=3)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Gamma(mystery_key=4)
    first.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "scheduler_config.json").read_text())
    assert saved["mystery_key"] == 3 and saved["_class_name"] == "Gamma"
    assert "_use_default_values" not in saved and "_diffusers_version" in saved


def test_save_and_load_round_trip(tmp_path):
    original = Alpha(beta_schedule="squaredcos_cap_v2", shared=0.5)
    original.save_pretrained(tmp_path)
    loaded = Alpha.from_pretrained(tmp_path, clip_sample=False)
    assert loaded.config.beta_schedule == "squaredcos_cap_v2" and loaded.config.shared == 0.5
    assert loaded.config.clip_sample is False


def test_swap_between_compatible_classes_round_trips_silently(toy_family, tmp_path):
    import warnings

    alpha = Alpha(beta_schedule="scaled_linear", clip_sample=False, shared=7.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        beta = Beta.from_config(alpha.config)
        back = Alpha.from_config(beta.config)
    assert beta.config.shared == 7.0
    assert beta.config.beta_schedule == "scaled_linear"
    assert {k: v for k, v in back.config.items() if not k.startswith("_")} == {
        k: v for k, v in alpha.config.items() if not k.startswith("_")
    }
    assert set(alpha.compatibles) == {Alpha, Beta}


def test_keys_only_defaulted_in_the_source_take_the_target_default(toy_family, tmp_path):
    (tmp_path / "scheduler_config.json").write_text(json.dumps({"_class_name": "Alpha"}))
    alpha = Alpha.from_pretrained(tmp_path)
    assert alpha.config.shared == 1.0
    assert Beta.from_config(alpha.config).config.shared == 2.0


def test_from_config_rejects_non_mappings():
    with pytest.raises(TypeError, match="expected a mapping"):
        Alpha.from_config([("shared", 1.0)])  # type: ignore[arg-type]


def test_signature_lists_config_fields():
    import inspect

    params = inspect.signature(Alpha).parameters
    assert params["beta_schedule"].default == "linear"
    assert params["num_train_timesteps"].kind is inspect.Parameter.KEYWORD_ONLY


def test_saved_config_files_get_the_usual_permissions(tmp_path):
    import stat

    from diffusekit import _files

    reference = tmp_path / "plain.json"
    reference.write_text("{}")
    _files.write_text_atomic(tmp_path / "atomic.json", "{}")
    expected = stat.S_IMODE(reference.stat().st_mode)
    assert stat.S_IMODE((tmp_path / "atomic.json").stat().st_mode) == expected
