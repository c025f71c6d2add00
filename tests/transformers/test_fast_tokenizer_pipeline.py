"""Through `DiffusionPipeline.from_pretrained`, a CLIP tokenizer arrives by the
``tokenizer.json`` fast path; with the opt-out it comes from transformers' own loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import transformers
from diffusekit_transformers import fast_load, fast_tokenizer
from test_fast_tokenizer import CORPUS, _clip

from diffusekit.pipeline import DiffusionPipeline


class TokenizerPipeline(DiffusionPipeline):
    def __init__(self, tokenizer: Any) -> None:
        super().__init__()
        self.register_modules(tokenizer=tokenizer)


@pytest.fixture
def checkpoint(tmp_path: Path, diffusekit_registry: Any) -> Any:
    _clip(tmp_path / "build").rename(tmp_path / "tokenizer")
    index = {"_class_name": "TokenizerPipeline", "tokenizer": ["transformers", "CLIPTokenizer"]}
    (tmp_path / "model_index.json").write_text(json.dumps(index))
    with diffusekit_registry.registered("diffusers", "TokenizerPipeline", TokenizerPipeline):
        yield tmp_path


@pytest.fixture
def calls(monkeypatch: Any) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"fast": [], "transformers": []}
    fast = fast_tokenizer.load
    original = transformers.CLIPTokenizer.from_pretrained.__func__

    def spy_fast(cls: type, path: str, options: Any) -> Any:
        tokenizer = fast(cls, path, options)
        seen["fast"].append((path, tokenizer is not None))
        return tokenizer

    def spy_transformers(cls: type, path: str, *args: Any, **kwargs: Any) -> Any:
        seen["transformers"].append(path)
        return original(cls, path, *args, **kwargs)

    monkeypatch.setattr(fast_tokenizer, "load", spy_fast)
    monkeypatch.setattr(
        transformers.CLIPTokenizer, "from_pretrained", classmethod(spy_transformers)
    )
    return seen


def test_pipeline_loads_the_tokenizer_by_the_fast_path(checkpoint: Path, calls: Any) -> None:
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    folder = str(checkpoint / "tokenizer")
    assert calls["fast"] == [(folder, True)]
    assert calls["transformers"] == []
    reference = transformers.CLIPTokenizer.from_pretrained(folder)
    assert type(pipe.tokenizer) is transformers.CLIPTokenizer
    assert pipe.tokenizer(CORPUS).input_ids == reference(CORPUS).input_ids
    assert repr(pipe.tokenizer.init_kwargs) == repr(reference.init_kwargs)


def test_opt_out_loads_through_transformers(checkpoint: Path, calls: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv(fast_load.ENV_VAR, fast_load.OPT_OUT)
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert calls["fast"] == []
    assert calls["transformers"] == [str(checkpoint / "tokenizer")]
    assert isinstance(pipe.tokenizer, transformers.CLIPTokenizer)


def test_a_guard_falls_back_to_transformers(checkpoint: Path, calls: Any) -> None:
    (checkpoint / "tokenizer" / "notes.txt").write_text("not a tokenizer file")
    pipe = DiffusionPipeline.from_pretrained(checkpoint)
    assert calls["fast"] == [(str(checkpoint / "tokenizer"), False)]
    assert calls["transformers"] == [str(checkpoint / "tokenizer")]
    assert isinstance(pipe.tokenizer, transformers.CLIPTokenizer)
