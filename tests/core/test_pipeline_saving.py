"""`DiffusionPipeline.save_pretrained`: layout, model_index.json, variants, shards, atomicity."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch

import diffusekit
from diffusekit.errors import CheckpointError
from diffusekit.pipeline import DiffusionPipeline

from ._toy_components import (
    OtherToyScheduler,
    ToyModel,
    ToyTokenizer,
    assert_same_weights,
    make_toy_pipeline,
)

pytestmark = pytest.mark.usefixtures("toy_components")


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def index_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "model_index.json").read_text())


def test_one_folder_per_component_and_the_index(tmp_path: Path) -> None:
    make_toy_pipeline().save_pretrained(tmp_path / "ckpt")
    assert files(tmp_path / "ckpt") == [
        "model_index.json",
        "scheduler/scheduler_config.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
    ]
    assert index_of(tmp_path / "ckpt") == {
        "_class_name": "ToyPipeline",
        "_diffusers_version": "0.42.1",
        "_diffusekit_version": diffusekit.__version__,
        "unet": ["diffusers", "ToyModel"],
        "scheduler": ["diffusers", "ToyScheduler"],
        "tokenizer": ["diffusers", "ToyTokenizer"],
        "safety_checker": [None, None],
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
    }
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_loaded_pipeline_saves_without_its_origin(tmp_path: Path) -> None:
    make_toy_pipeline().save_pretrained(tmp_path / "a")
    DiffusionPipeline.from_pretrained(tmp_path / "a").save_pretrained(tmp_path / "b")
    assert "_name_or_path" not in index_of(tmp_path / "b")
    assert index_of(tmp_path / "a") == index_of(tmp_path / "b")


def test_swapped_scheduler_is_recorded(tmp_path: Path) -> None:
    pipe = make_toy_pipeline()
    pipe.scheduler = OtherToyScheduler.from_config(pipe.scheduler.config)
    pipe.save_pretrained(tmp_path / "ckpt")
    assert index_of(tmp_path / "ckpt")["scheduler"] == ["diffusers", "OtherToyScheduler"]
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "ckpt")
    assert type(loaded.scheduler) is OtherToyScheduler
    assert loaded.scheduler.config.beta_end == 0.03


def test_variant_save_keeps_the_plain_files_and_both_load(tmp_path: Path) -> None:
    plain, half = make_toy_pipeline(0), make_toy_pipeline(1)
    plain.save_pretrained(tmp_path / "ckpt")
    half.unet.to(torch.float16)
    half.save_pretrained(tmp_path / "ckpt", variant="fp16")
    assert "unet/diffusion_pytorch_model.safetensors" in files(tmp_path / "ckpt")
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in files(tmp_path / "ckpt")
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "ckpt", variant="fp16")
    assert loaded.unet.dtype == torch.float32  # no dtype asked: the class's own, as the reference
    assert_same_weights(half.unet, loaded.unet)
    assert_same_weights(plain.unet, DiffusionPipeline.from_pretrained(tmp_path / "ckpt").unet)


def test_saving_plain_again_keeps_the_variant(tmp_path: Path) -> None:
    make_toy_pipeline(1).save_pretrained(tmp_path / "ckpt", variant="fp16")
    make_toy_pipeline(0).save_pretrained(tmp_path / "ckpt")
    assert files(tmp_path / "ckpt" / "unet") == [
        "config.json",
        "diffusion_pytorch_model.fp16.safetensors",
        "diffusion_pytorch_model.safetensors",
    ]


def test_shards_load_back_and_replace_an_older_single_file(tmp_path: Path) -> None:
    pipe = make_toy_pipeline()
    pipe.unet = ToyModel(width=8, depth=4)
    pipe.save_pretrained(tmp_path / "ckpt", max_shard_size=400)
    pipe.save_pretrained(tmp_path / "ckpt", max_shard_size=400, variant="fp16")
    unet_files = files(tmp_path / "ckpt" / "unet")
    assert "diffusion_pytorch_model.safetensors.index.json" in unet_files
    assert "diffusion_pytorch_model.safetensors.index.fp16.json" in unet_files
    shards = [n for n in unet_files if "-of-" in n and ".fp16" not in n]
    assert len(shards) == 4
    for variant in (None, "fp16"):
        loaded = DiffusionPipeline.from_pretrained(tmp_path / "ckpt", variant=variant)
        assert_same_weights(pipe.unet, loaded.unet)
    pipe.save_pretrained(tmp_path / "ckpt")
    unet_files = files(tmp_path / "ckpt" / "unet")
    assert [n for n in unet_files if "-of-" in n and ".fp16" not in n] == []
    assert "diffusion_pytorch_model.safetensors.index.json" not in unet_files
    assert "diffusion_pytorch_model.safetensors.index.fp16.json" in unet_files


def test_pickles_on_request(tmp_path: Path) -> None:
    pipe = make_toy_pipeline()
    pipe.save_pretrained(tmp_path / "ckpt", safe_serialization=False)
    assert files(tmp_path / "ckpt" / "unet") == ["config.json", "diffusion_pytorch_model.bin"]
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "ckpt", use_safetensors=False)
    assert_same_weights(pipe.unet, loaded.unet)


class FailingSave(ToyTokenizer):
    """Writes part of its file in place, then fails, as a crash half-way through would."""

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        with open(Path(path) / self.file_name, "w") as handle:
            handle.write('{"half')
        raise RuntimeError("disk full")


def test_a_failed_save_leaves_the_old_checkpoint_untouched(tmp_path: Path) -> None:
    make_toy_pipeline().save_pretrained(tmp_path / "ckpt")
    before = {name: (tmp_path / "ckpt" / name).read_bytes() for name in files(tmp_path / "ckpt")}
    broken = make_toy_pipeline(seed=5)
    broken.tokenizer = FailingSave({"z": 9})
    with pytest.raises(RuntimeError, match="disk full"):
        broken.save_pretrained(tmp_path / "ckpt")
    after = {name: (tmp_path / "ckpt" / name).read_bytes() for name in files(tmp_path / "ckpt")}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_a_failed_first_save_leaves_nothing(tmp_path: Path) -> None:
    broken = make_toy_pipeline()
    broken.tokenizer = FailingSave({"z": 9})
    with pytest.raises(RuntimeError):
        broken.save_pretrained(tmp_path / "ckpt")
    assert list(tmp_path.iterdir()) == []


def test_component_without_a_saver_is_named(tmp_path: Path) -> None:
    pipe = make_toy_pipeline()
    pipe.tokenizer = object()
    with pytest.raises(CheckpointError, match=r"component 'tokenizer' \(builtins.object\)"):
        pipe.save_pretrained(tmp_path / "ckpt")


def test_saving_into_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ckpt").write_text("x")
    with pytest.raises(CheckpointError, match="expected a folder to save into, found a file"):
        make_toy_pipeline().save_pretrained(tmp_path / "ckpt")


def test_unregistered_class_is_recorded_under_its_top_level_package() -> None:
    pipe = make_toy_pipeline()
    pipe.tokenizer = FailingSave({})
    assert pipe.config["tokenizer"] == (FailingSave.__module__.partition(".")[0], "FailingSave")


def test_save_over_the_folder_it_was_loaded_from(tmp_path: Path) -> None:
    original = make_toy_pipeline()
    original.save_pretrained(tmp_path / "ckpt")
    original.save_pretrained(tmp_path / "ckpt", variant="fp16")
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "ckpt")  # weights memory-mapped
    loaded.tokenizer.vocab["c"] = 2
    loaded.save_pretrained(tmp_path / "ckpt")
    again = DiffusionPipeline.from_pretrained(tmp_path / "ckpt")
    assert_same_weights(original.unet, again.unet)
    assert again.tokenizer.vocab == {"a": 0, "b": 1, "c": 2}
    assert "diffusion_pytorch_model.fp16.safetensors" in files(tmp_path / "ckpt" / "unet")
