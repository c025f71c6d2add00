"""`DiffusionPipeline.from_pretrained` from checkpoint folders, with toy components only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from diffusekit import registry
from diffusekit.errors import CheckpointError, DiffusekitWarning, MissingComponentError
from diffusekit.modeling import ModelMixin
from diffusekit.pipeline import DiffusionPipeline

from ._toy_components import (
    ToyModel,
    ToyPipeline,
    ToyRecorder,
    ToySafetyChecker,
    ToyScheduler,
    ToyUnetOnlyPipeline,
    assert_same_weights,
    make_toy_pipeline,
)

pytestmark = pytest.mark.usefixtures("toy_components")


@pytest.fixture
def original() -> ToyPipeline:
    return make_toy_pipeline()


@pytest.fixture
def checkpoint(original: ToyPipeline, tmp_path: Path) -> Path:
    original.save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def edit_index(folder: Path, **changes: Any) -> None:
    path = folder / "model_index.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


# ------------------------------------------------------------------------ the pipeline class


def test_loads_every_component_and_plain_value(original: ToyPipeline, checkpoint: Path) -> None:
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert type(pipe) is ToyPipeline
    assert_same_weights(original.unet, pipe.unet)
    assert type(pipe.scheduler) is ToyScheduler
    assert pipe.scheduler.config.beta_end == 0.03
    assert pipe.scheduler.config.num_train_timesteps == 10
    assert pipe.tokenizer.vocab == {"a": 0, "b": 1}
    assert pipe.safety_checker is None
    assert pipe.config.requires_safety_checker is False
    assert pipe.config["_name_or_path"] == str(checkpoint)


def test_a_concrete_class_is_used_as_is(checkpoint: Path) -> None:
    edit_index(checkpoint, _class_name="SomePipelineNobodyProvides")
    pipe = ToyUnetOnlyPipeline.from_pretrained(checkpoint)
    assert type(pipe) is ToyUnetOnlyPipeline
    assert list(pipe.components) == ["unet", "scheduler"]


def test_unknown_pipeline_class_names_the_file(checkpoint: Path) -> None:
    edit_index(checkpoint, _class_name="ToyPipelin")
    with pytest.raises(MissingComponentError, match=r"diffusers.ToyPipelin") as info:
        DiffusionPipeline.from_pretrained(checkpoint)
    assert str(checkpoint / "model_index.json") in str(info.value)
    assert "diffusers.ToyPipeline" in info.value.close_matches


def test_pipeline_class_must_be_a_pipeline(checkpoint: Path) -> None:
    edit_index(checkpoint, _class_name="ToyModel")
    with pytest.raises(CheckpointError, match=r"ToyModel resolved to .* not a DiffusionPipeline"):
        DiffusionPipeline.from_pretrained(checkpoint)


# ------------------------------------------------------------------------- passed components


def test_passed_components_replace_stored_ones_unread(checkpoint: Path) -> None:
    shutil.rmtree(checkpoint / "unet")
    shutil.rmtree(checkpoint / "scheduler")
    unet, scheduler = ToyModel(width=4, depth=2), ToyScheduler(beta_end=0.5)
    pipe = DiffusionPipeline.from_pretrained(checkpoint, unet=unet, scheduler=scheduler)
    assert pipe.unet is unet
    assert pipe.scheduler is scheduler


def test_component_with_a_default_but_not_declared_optional_can_be_passed(
    original: ToyPipeline, tmp_path: Path
) -> None:
    original.feature_extractor = ToyRecorder()
    original.save_pretrained(tmp_path / "ckpt")
    shutil.rmtree(tmp_path / "ckpt" / "feature_extractor")
    ToyRecorder.seen.clear()
    mine = ToyRecorder()
    pipe = DiffusionPipeline.from_pretrained(tmp_path / "ckpt", feature_extractor=mine)
    assert pipe.feature_extractor is mine
    assert ToyRecorder.seen == []


def test_optional_component_may_be_passed_as_none(checkpoint: Path) -> None:
    shutil.rmtree(checkpoint / "tokenizer")
    pipe = DiffusionPipeline.from_pretrained(checkpoint, tokenizer=None)
    assert pipe.tokenizer is None
    assert pipe.config["tokenizer"] == (None, None)


def test_null_component_is_skipped_even_when_its_folder_exists(checkpoint: Path) -> None:
    (checkpoint / "safety_checker").mkdir()
    (checkpoint / "safety_checker" / "config.json").write_text("not json")
    assert DiffusionPipeline.from_pretrained(checkpoint).safety_checker is None


def test_missing_required_component_lists_expected_and_found(checkpoint: Path) -> None:
    edit_index(checkpoint, unet=...)
    with pytest.raises(CheckpointError) as info:
        DiffusionPipeline.from_pretrained(checkpoint)
    message = str(info.value)
    assert "ToyPipeline needs components ['unet', 'scheduler']" in message
    assert "missing ['unet']" in message
    assert "scheduler=ToyScheduler" in message
    assert "tokenizer=ToyTokenizer" in message


def test_required_component_passed_as_none_is_missing(checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match=r"missing \['scheduler'\]"):
        DiffusionPipeline.from_pretrained(checkpoint, scheduler=None)


def test_required_component_saved_as_null_is_missing(checkpoint: Path) -> None:
    edit_index(checkpoint, unet=[None, None])
    with pytest.raises(CheckpointError, match=r"missing \['unet'\]"):
        DiffusionPipeline.from_pretrained(checkpoint)


def test_component_folder_missing_names_it(checkpoint: Path) -> None:
    shutil.rmtree(checkpoint / "tokenizer")
    with pytest.raises(CheckpointError, match=r"component 'tokenizer' .* folder .* does not exist"):
        DiffusionPipeline.from_pretrained(checkpoint)


def test_component_class_without_a_loader(checkpoint: Path) -> None:
    with (
        registry.registered("diffusers", "ToyTokenizer", "json:JSONDecoder"),
        pytest.raises(CheckpointError, match=r"tokenizer.*JSONDecoder has no from_pretrained"),
    ):
        DiffusionPipeline.from_pretrained(checkpoint)


# ------------------------------------------------------------------------------ plain values


def test_plain_values_come_from_the_index_and_kwargs_win(checkpoint: Path) -> None:
    edit_index(checkpoint, requires_safety_checker=True)
    assert DiffusionPipeline.from_pretrained(checkpoint).config.requires_safety_checker is True
    pipe = DiffusionPipeline.from_pretrained(checkpoint, requires_safety_checker=False)
    assert pipe.config.requires_safety_checker is False


def test_unknown_arguments_are_warned_about(checkpoint: Path) -> None:
    with pytest.warns(DiffusekitWarning, match=r"ignoring arguments it does not take: \['nope'\]"):
        DiffusionPipeline.from_pretrained(checkpoint, nope=1)


def test_index_values_the_class_does_not_take_are_dropped(checkpoint: Path) -> None:
    edit_index(checkpoint, force_zeros_for_empty_prompt=True)
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert "force_zeros_for_empty_prompt" not in pipe.config


# ----------------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", ["torch_dtype", "dtype"])
def test_dtype_applies_to_models(checkpoint: Path, name: str) -> None:
    pipe = DiffusionPipeline.from_pretrained(checkpoint, **{name: torch.float16})
    assert pipe.unet.dtype == torch.float16
    assert pipe.dtype == torch.float16


def test_dtype_per_component_with_default(tmp_path: Path) -> None:
    pipe = make_toy_pipeline()
    pipe.safety_checker = ToyModel(width=4)
    pipe.save_pretrained(tmp_path / "ckpt")
    loaded = DiffusionPipeline.from_pretrained(
        tmp_path / "ckpt", dtype={"unet": torch.bfloat16, "default": torch.float16}
    )
    assert loaded.unet.dtype == torch.bfloat16
    assert loaded.safety_checker.dtype == torch.float16
    only_unet = DiffusionPipeline.from_pretrained(tmp_path / "ckpt", dtype={"unet": torch.float64})
    assert only_unet.safety_checker.dtype == torch.float32


def test_dtype_dict_with_an_unknown_component_is_refused(checkpoint: Path) -> None:
    with pytest.raises(ValueError, match=r"dtype names \['unte'\], which are not components"):
        DiffusionPipeline.from_pretrained(checkpoint, dtype={"unte": torch.float16})


def test_dtype_and_torch_dtype_must_agree(checkpoint: Path) -> None:
    with pytest.raises(TypeError, match=r"pass one of dtype= and torch_dtype="):
        DiffusionPipeline.from_pretrained(
            checkpoint, dtype=torch.float16, torch_dtype=torch.bfloat16
        )


# ------------------------------------------------------------------------- loader options


def test_each_loader_gets_only_the_options_it_names(original: ToyPipeline, tmp_path: Path) -> None:
    original.feature_extractor = ToyRecorder()
    original.save_pretrained(tmp_path / "ckpt", variant="fp16")
    ToyRecorder.seen.clear()
    pipe = DiffusionPipeline.from_pretrained(
        tmp_path / "ckpt",
        dtype=torch.float16,
        variant="fp16",
        use_safetensors=True,
        low_cpu_mem_usage=False,
        device_map="cpu",
    )
    # ToyTokenizer.from_pretrained takes the path only; the recorder gets dtype under its name
    # and the folder's variant (it has no weights, so None).
    assert pipe.tokenizer.vocab == {"a": 0, "b": 1}
    assert ToyRecorder.seen == [{"torch_dtype": torch.float16, "variant": None}]
    assert pipe.unet.dtype == torch.float16


def test_variant_loads_variant_weights(original: ToyPipeline, tmp_path: Path) -> None:
    original.save_pretrained(tmp_path / "ckpt")
    fp16 = make_toy_pipeline(seed=1)
    fp16.save_pretrained(tmp_path / "ckpt", variant="fp16")
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "ckpt", variant="fp16")
    assert_same_weights(fp16.unet, loaded.unet)
    assert_same_weights(original.unet, DiffusionPipeline.from_pretrained(tmp_path / "ckpt").unet)


def test_variant_missing_in_one_folder_loads_its_plain_files(tmp_path: Path) -> None:
    pipe = make_toy_pipeline()
    pipe.safety_checker = ToyModel(width=4)
    pipe.save_pretrained(tmp_path / "ckpt")
    variant = make_toy_pipeline(seed=3)
    variant.save_pretrained(tmp_path / "variant", variant="fp16")
    shutil.copy(
        tmp_path / "variant/unet/diffusion_pytorch_model.fp16.safetensors", tmp_path / "ckpt/unet"
    )
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "ckpt", variant="fp16")
    assert_same_weights(variant.unet, loaded.unet)
    assert_same_weights(pipe.safety_checker, loaded.safety_checker)


def test_variant_no_folder_has_is_an_error(checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match=r"variant='ema' was asked for, but no component"):
        DiffusionPipeline.from_pretrained(checkpoint, variant="ema")


def test_pickles_load_only_on_request(original: ToyPipeline, tmp_path: Path) -> None:
    original.save_pretrained(tmp_path / "ckpt", safe_serialization=False)
    assert (tmp_path / "ckpt/unet/diffusion_pytorch_model.bin").is_file()
    with pytest.raises(CheckpointError, match=r"use_safetensors=False"):
        DiffusionPipeline.from_pretrained(tmp_path / "ckpt")
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "ckpt", use_safetensors=False)
    assert_same_weights(original.unet, loaded.unet)


def test_low_cpu_mem_usage_false_loads_the_same(original: ToyPipeline, checkpoint: Path) -> None:
    loaded = DiffusionPipeline.from_pretrained(checkpoint, low_cpu_mem_usage=False)
    assert_same_weights(original.unet, loaded.unet)


@pytest.mark.parametrize("device_map", ["auto", "sequential", {"unet": "cpu"}])
def test_device_maps_that_split_are_refused(checkpoint: Path, device_map: Any) -> None:
    with pytest.raises(ValueError, match=r"expected 'balanced' .* or one device"):
        DiffusionPipeline.from_pretrained(checkpoint, device_map=device_map)


@pytest.mark.parametrize("device_map", ["balanced", "cpu"])
def test_balanced_or_one_device(checkpoint: Path, device_map: str) -> None:
    pipe = DiffusionPipeline.from_pretrained(checkpoint, device_map=device_map)
    expected = "cuda" if device_map == "balanced" and torch.cuda.is_available() else "cpu"
    assert pipe.unet.device.type == expected


# ------------------------------------------------------------ pipeline-module libraries


@pytest.mark.parametrize(
    "library, class_name",
    [
        ("stable_diffusion", "StableDiffusionSafetyChecker"),
        ("stable_diffusion_safe", "SafeStableDiffusionSafetyChecker"),
        ("vq_diffusion", "LearnedClassifierFreeSamplingEmbeddings"),
        ("versatile_diffusion", "UNetFlatConditionModel"),
    ],
)
def test_pipeline_module_libraries_resolve_through_the_registry(
    checkpoint: Path, library: str, class_name: str
) -> None:
    ToySafetyChecker(width=4).save_pretrained(checkpoint / "safety_checker")
    edit_index(checkpoint, safety_checker=[library, class_name])
    with registry.registered(library, class_name, ToySafetyChecker):
        pipe = DiffusionPipeline.from_pretrained(checkpoint)
        assert type(pipe.safety_checker) is ToySafetyChecker
        assert pipe.config["safety_checker"] == (library, class_name)


LEGACY_MODULE = """
from torch import nn
from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin

class LegacyConfig(BaseConfig):
    width: int = 3

class LearnedClassifierFreeSamplingEmbeddings(ModelMixin):
    config_class = LegacyConfig

    def __init__(self, **config):
        super().__init__(**config)
        self.embeddings = nn.Linear(self.config.width, self.config.width)
"""


def test_pipeline_module_library_from_an_installed_distribution(
    checkpoint: Path, fake_distribution: Any
) -> None:
    fake_distribution(
        "legacy-vq",
        entry_points={
            registry.COMPONENTS: {
                "vq_diffusion.LearnedClassifierFreeSamplingEmbeddings": (
                    "legacy_vq:LearnedClassifierFreeSamplingEmbeddings"
                )
            }
        },
        modules={"legacy_vq/__init__.py": LEGACY_MODULE},
    )
    cls = registry.resolve("vq_diffusion", "LearnedClassifierFreeSamplingEmbeddings")
    assert issubclass(cls, ModelMixin)
    saved = cls(width=3)
    saved.save_pretrained(checkpoint / "safety_checker")
    edit_index(checkpoint, safety_checker=["vq_diffusion", cls.__name__])
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert_same_weights(saved, pipe.safety_checker)
    pipe.save_pretrained(checkpoint.parent / "again")
    index = json.loads((checkpoint.parent / "again/model_index.json").read_text())
    assert index["safety_checker"] == ["vq_diffusion", cls.__name__]


def test_component_names_must_resolve(checkpoint: Path) -> None:
    edit_index(checkpoint, tokenizer=["diffusers", "NoSuchTokenizer"])
    with pytest.raises(MissingComponentError, match=r"diffusers.NoSuchTokenizer") as info:
        DiffusionPipeline.from_pretrained(checkpoint)
    assert "component 'tokenizer'" in str(info.value)
