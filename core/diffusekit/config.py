"""Configurations: `config.json` / `scheduler_config.json` <-> one pydantic model per class.

A configurable class names its pydantic model in `config_class`; the model's fields (types,
defaults, allowed values, docs) are the class's documented configuration. Files read and written
are the reference's own, so checkpoints move between the two libraries unchanged.
"""

from __future__ import annotations

import contextvars
import inspect
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, NoReturn, TypeVar

import pydantic
from pydantic import ConfigDict

from . import _files, hub
from .errors import ConfigError, DiffusekitWarning

#: The reference release whose file formats we write (`_diffusers_version` in saved configs).
REFERENCE_FORMAT_VERSION = "0.42.1"

PRIVATE_KEYS_NOT_SAVED = ("_use_default_values", "_ignore_files", "_name_or_path")

Self = TypeVar("Self", bound="ConfigMixin")


class BaseConfig(pydantic.BaseModel):
    """Base of every configuration model. Unknown keys are kept, never dropped."""

    model_config = ConfigDict(extra="allow", protected_namespaces=(), arbitrary_types_allowed=True)


class FrozenConfig(dict[str, Any]):
    """A read-only dict that also allows attribute access: ``config.num_train_timesteps``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no field {name!r}") from None

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "a config is read-only; build a new object with Class.from_config(config, field=value)"
        )

    __setitem__ = __delitem__ = __setattr__ = __delattr__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenConfig, (dict(self),))

    def __copy__(self) -> FrozenConfig:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenConfig:
        return self


_source: contextvars.ContextVar[str | None] = contextvars.ContextVar("config_source", default=None)
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


@contextmanager
def config_source(path: str | os.PathLike[str]) -> Iterator[None]:
    """Name `path` in config errors raised inside the block."""
    token = _source.set(str(path))
    try:
        yield
    finally:
        _source.reset(token)


def _describe_error(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "<root>"
    message = str(error["msg"])
    if message.startswith("Input should be "):
        message = "expected " + message[len("Input should be ") :]
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    found = error.get("input")
    found_text = "" if error["type"] == "missing" or not error["loc"] else f", found {found!r}"
    return f"field '{field}': {message}{found_text}"


def validate_config(cls: type, values: Mapping[str, Any]) -> BaseConfig:
    """Validate `values` against `cls.config_class`, raising a ConfigError that names fields."""
    model: type[BaseConfig] = cls.config_class  # type: ignore[attr-defined]
    try:
        return model.model_validate(dict(values))
    except pydantic.ValidationError as exc:
        where = _source.get() or f"{cls.__name__} config"
        details = "; ".join(_describe_error(error) for error in exc.errors())
        raise ConfigError(f"{where}: invalid {cls.__name__} config: {details}") from None


def _warn_unknown(cls: type, keys: set[str]) -> None:
    fresh = []
    with _warned_lock:
        for key in sorted(keys):
            if (cls.__qualname__, key) not in _warned:
                _warned.add((cls.__qualname__, key))
                fresh.append(key)
    if fresh:
        where = _source.get()
        origin = f" in {where}" if where else ""
        warnings.warn(
            f"{cls.__name__} does not know the config keys {fresh}{origin}; "
            "they are kept and saved back, but not used",
            DiffusekitWarning,
            stacklevel=4,
        )


class ConfigMixin:
    """Gives a class a validated, read-only `config` and the reference's config file I/O.

    Subclasses set `config_class` (a `BaseConfig` subclass) and `config_name` (the file name
    inside a checkpoint folder) and call `self._register_config(values)` in `__init__`, or
    simply inherit ``__init__(self, **config)``.
    """

    config_class: ClassVar[type[BaseConfig]] = BaseConfig
    config_name: ClassVar[str] = "config.json"
    _config: FrozenConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__ or _takes_only_config_kwargs(cls.__dict__["__init__"]):
            cls.__signature__ = _signature_from_model(cls.config_class)  # type: ignore[attr-defined]

    def __init__(self, **config: Any) -> None:
        self._register_config(config)

    # ------------------------------------------------------------------ building the config

    def _register_config(self, values: Mapping[str, Any]) -> None:
        public = {k: v for k, v in values.items() if not k.startswith("_")}
        validated = validate_config(type(self), public)
        fields = type(self).config_class.model_fields
        unknown = set(validated.model_extra or {})
        if unknown:
            _warn_unknown(type(self), unknown - self._keys_of_related_classes())
        data = validated.model_dump(mode="python")
        data = {key: _plain(value) for key, value in data.items()}
        defaults = sorted(name for name in fields if name not in public)
        data["_class_name"] = type(self).__name__
        if defaults:
            data["_use_default_values"] = defaults
        object.__setattr__(self, "_config", FrozenConfig(data))

    def _update_private_config(self, **private: Any) -> None:
        merged = dict(self._config)
        merged.update({k: v for k, v in private.items() if k.startswith("_") and v is not None})
        object.__setattr__(self, "_config", FrozenConfig(merged))

    @classmethod
    def _keys_of_related_classes(cls) -> set[str]:
        """Keys that belong to compatible classes: carried along silently, not warned about."""
        return set()

    @property
    def config(self) -> FrozenConfig:
        """The validated configuration: every field, defaults included, plus kept extras."""
        return self._config

    # --------------------------------------------------------------------------- constructors

    @classmethod
    def from_config(
        cls: type[Self], config: Mapping[str, Any] | None = None, **overrides: Any
    ) -> Self:
        """Build an instance from a config mapping (a file's dict, or another object's config).

        Keys the other class only took as defaults are dropped so this class's defaults apply,
        as the reference does. `overrides` win over the mapping.
        """
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(
                f"{cls.__name__}.from_config: expected a mapping (e.g. other.config), "
                f"found {type(config).__name__}"
            )
        source = dict(config or {})
        used_defaults = set(source.pop("_use_default_values", None) or ())
        values = {
            k: v for k, v in source.items() if k not in used_defaults and not k.startswith("_")
        }
        values.update(overrides)
        instance = cls(**values)
        private = {k: v for k, v in source.items() if k in ("_diffusers_version", "_name_or_path")}
        if private:
            instance._update_private_config(**private)
        return instance

    @classmethod
    def load_config(
        cls,
        pretrained_model_name_or_path: str | os.PathLike[str],
        subfolder: str | None = None,
        **hub_options: Any,
    ) -> dict[str, Any]:
        """Read this class's config file from a checkpoint folder or Hub repo, as a dict."""
        options = hub.HubOptions.pop_from(hub_options)
        if hub_options:
            raise TypeError(
                f"{cls.__name__}.load_config: unexpected arguments {sorted(hub_options)}"
            )
        path = hub.fetch_file(
            pretrained_model_name_or_path, cls.config_name, subfolder=subfolder, options=options
        )
        data = _files.read_json_object(path, what=f"{cls.__name__} config")
        data.setdefault("_name_or_path", str(pretrained_model_name_or_path))
        data["_config_file"] = str(path)
        return data

    @classmethod
    def _from_loaded_config(cls: type[Self], data: dict[str, Any], **overrides: Any) -> Self:
        path = data.pop("_config_file", None)
        if path is None:
            return cls.from_config(data, **overrides)
        with config_source(path):
            return cls.from_config(data, **overrides)

    # --------------------------------------------------------------------------------- saving

    def config_to_save(self) -> dict[str, Any]:
        data = {k: v for k, v in self._config.items() if k not in PRIVATE_KEYS_NOT_SAVED}
        data["_class_name"] = type(self).__name__
        data["_diffusers_version"] = REFERENCE_FORMAT_VERSION
        from . import __version__

        data["_diffusekit_version"] = __version__
        return data

    def save_config(self, save_directory: str | os.PathLike[str]) -> Path:
        """Write `config_name` into `save_directory` (atomically) and return its path."""
        path = Path(save_directory) / self.config_name
        _files.write_text_atomic(path, _files.dump_json(self.config_to_save()))
        return path


def _plain(value: Any) -> Any:
    """Tuples become lists so configs compare equal to what JSON gives back."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _takes_only_config_kwargs(init: Any) -> bool:
    params = list(inspect.signature(init).parameters.values())[1:]
    return all(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _signature_from_model(model: type[BaseConfig]) -> inspect.Signature:
    params = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.get_default(call_default_factory=True),
            annotation=field.annotation,
        )
        for name, field in model.model_fields.items()
    ]
    return inspect.Signature(params)
