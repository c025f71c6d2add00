"""Load a ``tokenizers``-backed transformers tokenizer from its ``tokenizer.json`` directly.

transformers 5's ``from_pretrained`` reads ``tokenizer.json`` with Python's ``json`` (once for
its vocabulary and merges, once more for its added tokens when ``tokenizer_config.json`` does
not list them), and a class with its own ``__init__`` (``CLIPTokenizer``) then rebuilds the
backend from that vocabulary in Python. Here the backend is built once by the ``tokenizers``
library (``tokenizer_file=``, a documented constructor argument; ``tokenizer_object=`` would
make transformers deep-copy the backend, which costs as much as reading it) and the class gets
the same constructor arguments ``from_pretrained`` would give it.

That is only the same tokenizer when the pipeline stored in ``tokenizer.json`` (normaliser,
pre-tokeniser, decoder, model settings) is the one the class's ``__init__`` builds, and when
the added tokens get the ids ``from_pretrained`` would give them; both are checked, and
anything else returns None so the caller uses transformers' loader.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from typing import Any

from ._version import installed_release

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"
LEGACY_FILES = frozenset({"special_tokens_map.json", "added_tokens.json"})
"""Read by transformers only when ``tokenizer_config.json`` has no ``added_tokens_decoder``."""
SINCE: tuple[int, int] = (5, 0)
IGNORED_OPTIONS = frozenset({"dtype", "variant", "use_safetensors", "low_cpu_mem_usage"})
"""Pipeline options transformers' tokenizers never receive (`options.from_pretrained_kwargs`)."""
HANDLED_OPTIONS = IGNORED_OPTIONS | {"local_files_only"}
UNHANDLED_CONFIG_KEYS = ("auto_map", "fast_tokenizer_files", "gguf_file", "init_inputs")
VERIFIED_INITS = frozenset({"CLIPTokenizer"})
"""Classes whose own ``__init__`` keeps nothing from the vocabulary but the backend it builds."""
LEADING_KEYS = frozenset({"version", "truncation", "padding"})
"""Small fields ``tokenizers`` writes before ``added_tokens``."""
PREFIX_CHARS = 1 << 16


def is_tokenizer(cls: type) -> bool:
    """`cls` is backed by ``tokenizers`` (transformers 5's ``TokenizersBackend``, which older
    releases do not have)."""
    if installed_release() < SINCE:
        return False
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    return issubclass(cls, TokenizersBackend)


def load(cls: Any, path: str, options: Mapping[str, Any]) -> Any | None:
    """The tokenizer of `cls` in folder `path`, or None to let transformers load it."""
    if installed_release() < SINCE or not _options_handled(options) or not _init_handled(cls):
        return None
    files = _files(path)
    if files is None or not _files_handled(cls, files):
        return None
    try:
        config = _read_json(os.path.join(path, CONFIG_FILE))
        file_tokens = _leading_added_tokens(os.path.join(path, TOKENIZER_FILE))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not _config_handled(cls, config, files) or file_tokens is None:
        return None
    kwargs = _init_kwargs(
        cls, path, files, config, file_tokens, bool(options.get("local_files_only"))
    )
    if kwargs is None:
        return None
    tokenizer = cls(**kwargs)
    if not _ids_consistent(tokenizer.backend_tokenizer, file_tokens):
        return None
    return tokenizer if _pipeline_matches(cls, kwargs, tokenizer) else None


def _options_handled(options: Mapping[str, Any]) -> bool:
    return {key for key, value in options.items() if value is not None} <= HANDLED_OPTIONS


def _init_handled(cls: Any) -> bool:
    return _builds_from_file(cls) or cls.__name__ in VERIFIED_INITS


def _builds_from_file(cls: Any) -> bool:
    """transformers itself passes ``tokenizer.json`` to classes without their own ``__init__``."""
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    return cls is TokenizersBackend or "__init__" not in cls.__dict__


def _files(path: str) -> set[str] | None:
    try:
        names = set(os.listdir(path))
    except OSError:
        return None
    if not {TOKENIZER_FILE, CONFIG_FILE} <= names:
        return None
    return names


def _files_handled(cls: Any, files: set[str]) -> bool:
    """Only files whose effect is reproduced here; vocabulary files are paths to transformers
    (``tokenizer.json`` wins over them in its own loader)."""
    known = {TOKENIZER_FILE, CONFIG_FILE, CHAT_TEMPLATE_FILE, *LEGACY_FILES}
    known |= set(cls.vocab_files_names.values())
    return files <= known


def _read_json(file: str) -> Any:
    with open(file, encoding="utf-8") as handle:
        return json.load(handle)


def _config_handled(cls: Any, config: Any, files: set[str]) -> bool:
    if not isinstance(config, dict) or any(key in config for key in UNHANDLED_CONFIG_KEYS):
        return False
    if config.get("tokenizer_class") not in (None, cls.__name__, f"{cls.__name__}Fast"):
        return False
    return "added_tokens_decoder" in config or not files & LEGACY_FILES


def _leading_added_tokens(file: str) -> dict[int, Any] | None:
    """``added_tokens`` of a ``tokenizers``-written file, decoding only the fields before it.

    Those come first in what ``tokenizers`` writes, so only the start of the file is read; a
    file laid out otherwise gives None.
    """
    from tokenizers import AddedToken

    with open(file, encoding="utf-8") as handle:
        text = handle.read(PREFIX_CHARS)
        while True:
            try:
                entries = _added_token_entries(text)
                break
            except (_Truncated, json.JSONDecodeError):
                more = handle.read(3 * len(text))
                if not more:
                    return None
                text += more
    if entries is None:
        return None
    return {entry.pop("id"): AddedToken(**entry) for entry in entries}


class _Truncated(Exception):
    """The text read so far ends before the value looked for."""


def _added_token_entries(text: str) -> list[dict[str, Any]] | None:
    decoder = json.JSONDecoder()
    position = _skip(text, 0, "{")
    while position is not None:
        key, position = decoder.raw_decode(text, position)
        position = _skip(text, position, ":")
        if position is None or key not in LEADING_KEYS | {"added_tokens"}:
            return None
        value, position = decoder.raw_decode(text, position)
        if key == "added_tokens":
            return value if isinstance(value, list) else None
        position = _skip(text, position, ",")
    return None


def _skip(text: str, position: int, expected: str) -> int | None:
    """The position after `expected` and the whitespace around it, or None when another
    character comes first."""
    while position < len(text) and text[position].isspace():
        position += 1
    if position >= len(text):
        raise _Truncated
    if text[position] != expected:
        return None
    position += 1
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _init_kwargs(
    cls: Any,
    path: str,
    files: set[str],
    config: dict[str, Any],
    file_tokens: dict[int, Any],
    local_files_only: bool,
) -> dict[str, Any] | None:
    """The constructor arguments ``cls.from_pretrained(path)`` passes, with ``tokenizer_file``
    in place of the vocabulary and merges it would extract from that file."""
    from huggingface_hub import is_offline_mode

    kwargs = dict(config)
    kwargs.pop("tokenizer_class", None)
    kwargs.pop("add_bos_token", None)
    kwargs.pop("add_eos_token", None)
    if CHAT_TEMPLATE_FILE in files:
        with open(os.path.join(path, CHAT_TEMPLATE_FILE), encoding="utf-8") as handle:
            kwargs["chat_template"] = handle.read()
    if "additional_special_tokens" in kwargs and not kwargs.get("extra_special_tokens"):
        kwargs["extra_special_tokens"] = kwargs.pop("additional_special_tokens")
    _collect_model_specific_tokens(cls, kwargs)
    for argument, name in {**cls.vocab_files_names, "tokenizer_file": TOKENIZER_FILE}.items():
        kwargs[argument] = os.path.join(path, name) if name in files else None
    kwargs["name_or_path"] = str(path)
    kwargs["is_local"] = True
    kwargs["local_files_only"] = local_files_only or is_offline_mode()
    added = _added_tokens(kwargs.get("added_tokens_decoder"), file_tokens)
    if added is None:
        return None
    kwargs["added_tokens_decoder"] = added
    kwargs = cls.convert_added_tokens(kwargs, save=False)
    by_content = {str(token): token for token in added.values()}
    for key in cls.SPECIAL_TOKENS_ATTRIBUTES:
        if kwargs.get(key) is not None and by_content:
            kwargs[key] = by_content.get(str(kwargs[key]), kwargs[key])
    return kwargs


def _collect_model_specific_tokens(cls: Any, kwargs: dict[str, Any]) -> None:
    """Other ``*_token`` strings and a dict of extra special tokens become
    ``model_specific_special_tokens``, as transformers 5 does before building."""
    from tokenizers import AddedToken

    named = set(cls.SPECIAL_TOKENS_ATTRIBUTES)
    specific = {
        key: kwargs.pop(key)
        for key in list(kwargs)
        if key not in named and key.endswith("_token") and isinstance(kwargs[key], str | AddedToken)
    }
    if isinstance(kwargs.get("extra_special_tokens"), dict):
        specific.update(kwargs.pop("extra_special_tokens"))
    if specific:
        kwargs["model_specific_special_tokens"] = specific


def _added_tokens(listed: Any, file_tokens: dict[int, Any]) -> dict[int, Any] | None:
    """The added tokens: the config's list when it has one (it must then be the file's, which
    the backend already holds), else the file's."""
    if listed is None:
        return file_tokens
    from tokenizers import AddedToken

    if not isinstance(listed, dict) or not all(isinstance(t, dict) for t in listed.values()):
        return None
    try:
        tokens = {int(index): AddedToken(**token) for index, token in listed.items()}
    except (TypeError, ValueError):
        return None
    if {i: repr(t) for i, t in tokens.items()} != {i: repr(t) for i, t in file_tokens.items()}:
        return None
    return tokens


def _ids_consistent(backend: Any, file_tokens: dict[int, Any]) -> bool:
    """The file's added tokens have the ids transformers' loader gives them by adding them, in
    the order of their saved ids, to a backend built from the bare vocabulary: the vocabulary
    id, else the next free one. (``tokenizers`` assigns new ones in list order instead.)"""
    next_free = backend.get_vocab_size(with_added_tokens=False)
    for _, token in sorted(file_tokens.items()):
        expected = backend.model.token_to_id(token.content)
        if expected is None:
            expected, next_free = next_free, next_free + 1
        if backend.token_to_id(token.content) != expected:
            return False
    return True


def _pipeline_matches(cls: Any, kwargs: dict[str, Any], tokenizer: Any) -> bool:
    """For a class that builds its own backend, ``tokenizer.json`` holds that same pipeline:
    what the class builds without a file (cheap: a three-token vocabulary) is compared."""
    if _builds_from_file(cls):
        return True
    template_kwargs = {key: value for key, value in kwargs.items() if key != "tokenizer_file"}
    expected = cls(**copy.deepcopy(template_kwargs)).backend_tokenizer
    loaded = tokenizer.backend_tokenizer
    for part in ("normalizer", "pre_tokenizer", "decoder"):
        if _state(getattr(expected, part)) != _state(getattr(loaded, part)):
            return False
    return _model_settings_match(expected.model, loaded.model)


def _state(component: Any) -> Any:
    return None if component is None else json.loads(component.__getstate__())


def _model_settings_match(expected: Any, loaded: Any) -> bool:
    """Same model type and settings; the vocabulary is not compared (it is the file's in both)."""
    if type(expected) is not type(loaded):
        return False
    settings = _state(expected)
    settings = {k: v for k, v in settings.items() if k not in ("type", "vocab", "merges")}
    missing = object()
    return all(getattr(loaded, key, missing) == value for key, value in settings.items())
