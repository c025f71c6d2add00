"""Tokenizers loaded from ``tokenizer.json`` directly (`diffusekit_transformers.fast_tokenizer`)
equal what transformers' own ``from_pretrained`` gives, and every case they do not handle
falls back (None)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from diffusekit_transformers import fast_load, fast_tokenizer, hooks
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

CORPUS = [
    "",
    "a car",
    "The cat ate the car, then the CAR ate the cat!",
    "Ünïcödé café 東京 🚀 naïve",
    "<|startoftext|>the car<|endoftext|> <extra> tail<more>",
    "  spaces\tand\nnew   lines  ",
    "the cat " * 60,
    "it's 12,345.67 $ — ok?!",
]
CALLS: list[dict[str, Any]] = [
    {},
    {"padding": "max_length", "max_length": 77, "truncation": True, "return_tensors": "pt"},
    {"padding": True, "return_tensors": "pt"},
    {"truncation": True, "max_length": 10},
    {"add_special_tokens": False},
]
MERGES = [("t", "h"), ("th", "e</w>"), ("c", "a"), ("ca", "r</w>"), ("ca", "t</w>"), ("a", "t")]


def _clip_files(folder: Path) -> Path:
    """vocab.json and merges.txt of a byte-level BPE: every byte, alone and word-final, and
    the words of `MERGES`."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = ["<|startoftext|>", "<|endoftext|>", *alphabet, *(c + "</w>" for c in alphabet)]
    tokens += [left + right for left, right in MERGES]
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    merges = "".join(f"{left} {right}\n" for left, right in MERGES)
    (folder / "merges.txt").write_text("#version: 0.2\n" + merges)
    return folder


def _clip(root: Path) -> Path:
    """A CLIP tokenizer saved by transformers 5: tokenizer.json and tokenizer_config.json."""
    source = _clip_files(root / "bpe")
    tokenizer = transformers.CLIPTokenizer.from_pretrained(source, model_max_length=77)
    tokenizer.add_tokens(["<extra>", "<more>"])
    tokenizer.save_pretrained(root / "clip")
    return root / "clip"


def _clip_legacy(root: Path) -> Path:
    """The layout transformers 4 writes: vocabulary files, special_tokens_map.json and the
    added tokens listed in tokenizer_config.json."""
    folder = _clip(root)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(root / "bpe" / name, folder / name)
    added = json.loads((folder / "tokenizer.json").read_text())["added_tokens"]
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["added_tokens_decoder"] = {str(t.pop("id")): t for t in added}
    config["tokenizer_class"] = "CLIPTokenizerFast"
    config["clean_up_tokenization_spaces"] = True
    config["padding_side"] = "left"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    return folder


def _clip_padded(root: Path) -> Path:
    """Padding and truncation stored in tokenizer.json (transformers takes them from there)."""
    folder = _clip(root)
    content = json.loads((folder / "tokenizer.json").read_text())
    content["truncation"] = {
        "direction": "Left",
        "max_length": 12,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    content["padding"] = {
        "strategy": {"Fixed": 12},
        "direction": "Left",
        "pad_to_multiple_of": None,
        "pad_id": 1,
        "pad_type_id": 0,
        "pad_token": "<|endoftext|>",
    }
    (folder / "tokenizer.json").write_text(json.dumps(content))
    return folder


def _unigram(root: Path) -> Path:
    """A Unigram tokenizer wrapped by the generic backend class, with a chat template."""
    pieces = [("<unk>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("▁", -2.0), ("▁the", -1.0)]
    pieces += [("▁c", -2.5), ("at", -2.0), ("ar", -2.0), *((c, -4.0) for c in "thecar")]
    backend = Tokenizer(models.Unigram(pieces, unk_id=0, byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    tokenizer = transformers.TokenizersBackend(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="</s>",
        model_max_length=16,
        chat_template="{% for m in messages %}{{ m['content'] }}</s>{% endfor %}",
    )
    tokenizer.save_pretrained(root / "unigram")
    return root / "unigram"


FOLDERS: dict[str, tuple[type, Callable[[Path], Path]]] = {
    "clip": (transformers.CLIPTokenizer, _clip),
    "clip-legacy-layout": (transformers.CLIPTokenizer, _clip_legacy),
    "clip-padding-in-file": (transformers.CLIPTokenizer, _clip_padded),
    "unigram-backend": (transformers.TokenizersBackend, _unigram),
}


def _json_files(folder: Path) -> dict[str, Any]:
    return {p.name: json.loads(p.read_text()) for p in folder.iterdir() if p.suffix == ".json"}


def _assert_same_encoding(ours: Any, theirs: Any) -> None:
    assert set(ours) == set(theirs)
    for key in theirs:
        if isinstance(theirs[key], torch.Tensor):
            assert torch.equal(ours[key], theirs[key]), key
        else:
            assert ours[key] == theirs[key], key


def _assert_same(loaded: Any, reference: Any, tmp_path: Path) -> None:
    assert type(loaded) is type(reference)
    for call in CALLS:
        _assert_same_encoding(loaded(CORPUS, **call), reference(CORPUS, **call))
        for text in CORPUS:
            _assert_same_encoding(loaded(text, **call), reference(text, **call))
    for ids in reference(CORPUS).input_ids:
        assert loaded.decode(ids) == reference.decode(ids)
        assert loaded.decode(ids, skip_special_tokens=True) == reference.decode(
            ids, skip_special_tokens=True
        )
    assert loaded.special_tokens_map == reference.special_tokens_map
    assert loaded.all_special_ids == reference.all_special_ids
    assert loaded.added_tokens_decoder == reference.added_tokens_decoder
    assert loaded.get_vocab() == reference.get_vocab()
    assert len(loaded) == len(reference)
    assert loaded.model_max_length == reference.model_max_length
    assert loaded.padding_side == reference.padding_side
    assert loaded.clean_up_tokenization_spaces == reference.clean_up_tokenization_spaces
    assert loaded.chat_template == reference.chat_template
    assert loaded.name_or_path == reference.name_or_path
    assert repr(loaded.init_kwargs) == repr(reference.init_kwargs)
    ours_backend = json.loads(loaded.backend_tokenizer.to_str())
    assert ours_backend == json.loads(reference.backend_tokenizer.to_str())
    loaded.save_pretrained(tmp_path / "saved-fast")
    reference.save_pretrained(tmp_path / "saved-reference")
    assert sorted(p.name for p in (tmp_path / "saved-fast").iterdir()) == sorted(
        p.name for p in (tmp_path / "saved-reference").iterdir()
    )
    assert _json_files(tmp_path / "saved-fast") == _json_files(tmp_path / "saved-reference")


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_fast_path_equals_from_pretrained(name: str, tmp_path: Path) -> None:
    cls, build = FOLDERS[name]
    folder = str(build(tmp_path))
    loaded = fast_tokenizer.load(cls, folder, {})
    assert loaded is not None
    _assert_same(loaded, cls.from_pretrained(folder), tmp_path)


def test_local_files_only_reaches_the_saved_config(tmp_path: Path) -> None:
    folder = str(_clip(tmp_path))
    options = {"local_files_only": True, "dtype": torch.float16}
    loaded = fast_tokenizer.load(transformers.CLIPTokenizer, folder, options)
    reference = transformers.CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    assert loaded is not None and loaded.init_kwargs["local_files_only"] is True
    assert repr(loaded.init_kwargs) == repr(reference.init_kwargs)


def test_hook_answers_for_tokenizers_and_honours_the_opt_out(
    tmp_path: Path, monkeypatch: Any
) -> None:
    folder = str(_clip(tmp_path))
    cls = transformers.CLIPTokenizer
    loaded = hooks.diffusekit_load_component("transformers", cls, folder, {})
    assert isinstance(loaded, cls)
    assert (
        hooks.diffusekit_load_component("transformers", transformers.CLIPTextConfig, folder, {})
        is None
    )
    monkeypatch.setenv(fast_load.ENV_VAR, fast_load.OPT_OUT)
    assert hooks.diffusekit_load_component("transformers", cls, folder, {}) is None


def _edit_json(file: Path, edit: Callable[[Any], None]) -> None:
    content = json.loads(file.read_text())
    edit(content)
    file.write_text(json.dumps(content))


def _config(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return lambda folder: _edit_json(folder / "tokenizer_config.json", edit)


def _tokenizer_json(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return lambda folder: _edit_json(folder / "tokenizer.json", edit)


def _write(name: str, text: str = "{}") -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def _model_first(folder: Path) -> None:
    content = json.loads((folder / "tokenizer.json").read_text())
    model = content.pop("model")
    (folder / "tokenizer.json").write_text(json.dumps({"model": model, **content}))


def _drop_lowercase(content: dict[str, Any]) -> None:
    content["normalizer"]["normalizers"].pop()


def _reverse_added_tokens(content: dict[str, Any]) -> None:
    """`tokenizers` numbers new tokens in list order, transformers in saved-id order."""
    content["added_tokens"].reverse()


def _config_lists_other_tokens(config: dict[str, Any]) -> None:
    token = {"content": "<other>", "lstrip": False, "rstrip": False, "normalized": True}
    config["added_tokens_decoder"] = {"0": {**token, "single_word": False, "special": False}}


GUARDS: dict[str, Callable[[Path], None]] = {
    "no tokenizer.json": lambda folder: (folder / "tokenizer.json").unlink(),
    "no tokenizer_config.json": lambda folder: (folder / "tokenizer_config.json").unlink(),
    "unknown file": _write("extra.txt", "x"),
    "chat template folder": lambda folder: (folder / "additional_chat_templates").mkdir(),
    "legacy special tokens map": _write("special_tokens_map.json"),
    "legacy added tokens": _write("added_tokens.json"),
    "other class": _config(lambda c: c.update(tokenizer_class="BertTokenizer")),
    "remote code": _config(lambda c: c.update(auto_map={"AutoTokenizer": ["x.Y", None]})),
    "saved init inputs": _config(lambda c: c.update(init_inputs=["x"])),
    "versioned tokenizer files": _config(lambda c: c.update(fast_tokenizer_files=["t.json"])),
    "config added tokens differ": _config(_config_lists_other_tokens),
    "pipeline differs from the class": _tokenizer_json(_drop_lowercase),
    "added token id transformers would not give": _tokenizer_json(_reverse_added_tokens),
    "tokenizer.json not in tokenizers' layout": _model_first,
}


@pytest.mark.parametrize("guard", sorted(GUARDS))
def test_guards_fall_back(guard: str, tmp_path: Path) -> None:
    folder = _clip(tmp_path)
    GUARDS[guard](folder)
    assert fast_tokenizer.load(transformers.CLIPTokenizer, str(folder), {}) is None


def test_the_pipeline_guard_is_needed(tmp_path: Path) -> None:
    """transformers rebuilds CLIP's pipeline in code, so a file without lower-casing still
    lower-cases: taking the file's pipeline would tokenize differently."""
    folder = _clip(tmp_path)
    _tokenizer_json(_drop_lowercase)(folder)
    reference = transformers.CLIPTokenizer.from_pretrained(str(folder))
    from_file = Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert reference("THE CAT").input_ids[1:-1] != from_file.encode("THE CAT").ids


@pytest.mark.parametrize(
    "options",
    [{"revision": "main"}, {"cache_dir": "/tmp/x"}, {"token": "t"}, {"force_download": True}],
)
def test_unhandled_options_fall_back(options: dict[str, Any], tmp_path: Path) -> None:
    folder = str(_clip(tmp_path))
    assert fast_tokenizer.load(transformers.CLIPTokenizer, folder, options) is None


def test_unverified_init_falls_back(tmp_path: Path) -> None:
    """A class with its own ``__init__`` not checked here (T5's) is left to transformers."""
    folder = str(_unigram(tmp_path))
    assert fast_tokenizer.load(transformers.T5Tokenizer, folder, {}) is None


def test_subclass_without_own_init_is_loaded_like_transformers_does(tmp_path: Path) -> None:
    class MyClip(transformers.CLIPTokenizer):
        pass

    folder = str(_clip(tmp_path))
    _config(lambda c: c.update(tokenizer_class="MyClip"))(Path(folder))
    loaded = fast_tokenizer.load(MyClip, folder, {})
    assert loaded is not None
    _assert_same(loaded, MyClip.from_pretrained(folder), tmp_path)


def test_older_transformers_falls_back(tmp_path: Path, monkeypatch: Any) -> None:
    folder = str(_clip(tmp_path))
    monkeypatch.setattr(fast_tokenizer, "installed_release", lambda: (4, 57))
    assert not fast_tokenizer.is_tokenizer(transformers.CLIPTokenizer)
    assert fast_tokenizer.load(transformers.CLIPTokenizer, folder, {}) is None


def test_added_tokens_are_read_past_the_first_chunk(tmp_path: Path) -> None:
    backend = Tokenizer(models.WordLevel({"<unk>": 0, "a": 1}, unk_token="<unk>"))
    backend.add_tokens([f"<token-{i}>" for i in range(1500)])
    backend.add_special_tokens(["<last>"])
    file = tmp_path / "tokenizer.json"
    backend.save(str(file))
    assert file.stat().st_size > 4 * fast_tokenizer.PREFIX_CHARS
    saved = json.loads(file.read_text())["added_tokens"]
    tokens = fast_tokenizer._leading_added_tokens(str(file))
    assert tokens is not None
    assert {i: repr(t) for i, t in tokens.items()} == {
        t["id"]: repr(AddedToken(**{k: v for k, v in t.items() if k != "id"})) for t in saved
    }
    file.write_text(file.read_text()[: 3 * fast_tokenizer.PREFIX_CHARS])
    assert fast_tokenizer._leading_added_tokens(str(file)) is None
