"""Save a tiny CLIP text encoder and tokenizer as a checkpoint's sub-folders, load them back
through the registry and the plugin's load options, as the pipeline loader does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from diffusekit import _hook_manager, registry

LETTERS = "abcdefghijklmnopqrstuvwxyz"
MERGES = ["h e", "l l", "he ll", "hell o</w>"]
SPECIAL = {"<|startoftext|>": 0, "<|endoftext|>": 1}


def _vocab() -> dict[str, int]:
    tokens = [*SPECIAL, *LETTERS, *(c + "</w>" for c in LETTERS), "he", "ll", "hell", "hello</w>"]
    return {token: index for index, token in enumerate(tokens)}


def _write_bpe_files(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(_vocab()))
    (folder / "merges.txt").write_text("\n".join(["#version: 0.2", *MERGES]) + "\n")
    return folder


def _load(library: str, class_name: str, path: Path, **options: Any) -> Any:
    cls = registry.resolve(library, class_name)
    kwargs = _hook_manager.load_options(library, cls, options)
    assert kwargs is not None
    return cls.from_pretrained(path, **kwargs)


@pytest.fixture(scope="module")
def text_encoder() -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=1000,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    return CLIPTextModel(config).eval()


def _hidden(model: Any, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids).last_hidden_state


IDS = torch.tensor([[0, 57, 4, 2, 29, 1]])


def test_tokenizer_round_trip(tmp_path):
    cls = registry.resolve("transformers", "CLIPTokenizer")
    tokenizer = cls.from_pretrained(_write_bpe_files(tmp_path / "bpe"), model_max_length=77)
    tokenizer.save_pretrained(tmp_path / "tokenizer")

    loaded = _load("transformers", "CLIPTokenizer", tmp_path / "tokenizer", local_files_only=True)

    vocab = _vocab()
    expected = [vocab["<|startoftext|>"], vocab["hello</w>"], vocab["c"], vocab["a"]]
    expected += [vocab["b</w>"], vocab["<|endoftext|>"]]
    assert loaded("hello cab").input_ids == expected == tokenizer("hello cab").input_ids
    assert loaded.model_max_length == 77
    padded = loaded("hello", padding="max_length", max_length=loaded.model_max_length)
    assert len(padded.input_ids) == 77
    assert padded.input_ids[-1] == vocab["<|endoftext|>"]


def test_text_encoder_round_trip_keeps_weights(tmp_path, text_encoder):
    text_encoder.save_pretrained(tmp_path / "text_encoder")
    assert (tmp_path / "text_encoder" / "model.safetensors").is_file()

    loaded = _load("transformers", "CLIPTextModel", tmp_path / "text_encoder")

    assert next(loaded.parameters()).dtype == torch.float32
    torch.testing.assert_close(_hidden(loaded, IDS), _hidden(text_encoder, IDS), rtol=0, atol=0)


def test_text_encoder_loads_in_the_requested_dtype(tmp_path, text_encoder):
    text_encoder.save_pretrained(tmp_path / "text_encoder")

    loaded = _load("transformers", "CLIPTextModel", tmp_path / "text_encoder", dtype=torch.float16)

    assert {p.dtype for p in loaded.parameters()} == {torch.float16}
    original = text_encoder.state_dict()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, original[name].to(torch.float16)), name


def test_text_encoder_variant_is_passed(tmp_path, text_encoder):
    text_encoder.save_pretrained(tmp_path / "text_encoder", variant="fp16")
    assert (tmp_path / "text_encoder" / "model.fp16.safetensors").is_file()

    loaded = _load("transformers", "CLIPTextModel", tmp_path / "text_encoder", variant="fp16")

    torch.testing.assert_close(_hidden(loaded, IDS), _hidden(text_encoder, IDS), rtol=0, atol=0)


def test_pickled_weights_are_refused_unless_the_user_opts_in(tmp_path, text_encoder):
    folder = tmp_path / "text_encoder"
    text_encoder.config.save_pretrained(folder)
    torch.save(text_encoder.state_dict(), folder / "pytorch_model.bin")

    with pytest.raises(OSError, match="safetensors"):
        _load("transformers", "CLIPTextModel", folder)

    loaded = _load("transformers", "CLIPTextModel", folder, use_safetensors=False)
    torch.testing.assert_close(_hidden(loaded, IDS), _hidden(text_encoder, IDS), rtol=0, atol=0)
