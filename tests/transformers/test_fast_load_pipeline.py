"""Through `DiffusionPipeline.from_pretrained`, transformers models arrive by the fast path;
with the opt-out they come from transformers' own loader, equal either way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from diffusekit_transformers import fast_load

from diffusekit import _safetensors_io
from diffusekit.pipeline import DiffusionPipeline


class TextPipeline(DiffusionPipeline):
    def __init__(self, text_encoder: Any) -> None:
        super().__init__()
        self.register_modules(text_encoder=text_encoder)


@pytest.fixture
def checkpoint(tmp_path: Path, diffusekit_registry: Any) -> Any:
    config = transformers.CLIPTextConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=100,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    transformers.CLIPTextModel(config).save_pretrained(tmp_path / "ckpt" / "text_encoder")
    index = {"_class_name": "TextPipeline", "text_encoder": ["transformers", "CLIPTextModel"]}
    (tmp_path / "ckpt" / "model_index.json").write_text(json.dumps(index))
    with diffusekit_registry.registered("diffusers", "TextPipeline", TextPipeline):
        yield tmp_path / "ckpt"


@pytest.fixture
def calls(monkeypatch: Any) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"fast": [], "transformers": []}
    fast = fast_load.load
    original = transformers.CLIPTextModel.from_pretrained.__func__

    def spy_fast(cls: type, path: str, options: Any) -> Any:
        model = fast(cls, path, options)
        seen["fast"].append((path, dict(options), model is not None))
        return model

    def spy_transformers(cls: type, path: str, **kwargs: Any) -> Any:
        seen["transformers"].append((path, kwargs))
        return original(cls, path, **kwargs)

    monkeypatch.setattr(fast_load, "load", spy_fast)
    monkeypatch.setattr(
        transformers.CLIPTextModel, "from_pretrained", classmethod(spy_transformers)
    )
    return seen


def test_pipeline_loads_the_text_encoder_by_the_fast_path(checkpoint: Path, calls: Any) -> None:
    pipe = DiffusionPipeline.from_pretrained(checkpoint, torch_dtype=torch.float16)
    folder = str(checkpoint / "text_encoder")
    assert calls["fast"] == [(folder, {"dtype": torch.float16}, True)]
    assert calls["transformers"] == []
    reference = transformers.CLIPTextModel.from_pretrained(folder, dtype=torch.float16)
    assert pipe.text_encoder.dtype == torch.float16
    state = pipe.text_encoder.state_dict()
    assert all(torch.equal(state[k], v) for k, v in reference.state_dict().items())


def test_opt_out_loads_through_transformers(checkpoint: Path, calls: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv(fast_load.ENV_VAR, "transformers")
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert calls["fast"] == []
    assert [path for path, _ in calls["transformers"]] == [str(checkpoint / "text_encoder")]
    assert isinstance(pipe.text_encoder, transformers.CLIPTextModel)


def test_a_guard_falls_back_to_transformers(checkpoint: Path, calls: Any) -> None:
    weights = checkpoint / "text_encoder" / "model.safetensors"
    state = {k: v.clone() for k, v in _safetensors_io.load_file(weights).items()}
    state["unexpected.weight"] = torch.ones(2)
    _safetensors_io.save_file(state, weights, metadata={"format": "pt"})
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert [answer for _, _, answer in calls["fast"]] == [False]
    assert len(calls["transformers"]) == 1
    reference = transformers.CLIPTextModel.from_pretrained(str(checkpoint / "text_encoder"))
    loaded = pipe.text_encoder.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in reference.state_dict().items())
