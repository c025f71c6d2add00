"""Map diffusekit's loading options to the keyword arguments of transformers' loaders.

diffusekit names options as a pipeline call does (``dtype``, ``variant``, ``use_safetensors``,
``low_cpu_mem_usage``, ``device_map`` and the Hub options). transformers' ``from_pretrained``
methods take ``**kwargs``, so their signatures cannot say what they accept; the installed
release decides instead:

- models (``PreTrainedModel``) get the dtype as ``dtype`` (transformers >= 4.56) or
  ``torch_dtype`` (before), ``variant``, ``device_map``, ``low_cpu_mem_usage`` (before
  transformers 5 only), and ``use_safetensors=True`` unless the caller passed ``False``: a
  pickled ``.bin`` file is never opened by default. When ``.bin`` files are allowed and the
  loader has a ``weights_only`` parameter, it is set to True.
- tokenizers, image processors, feature extractors, processors and configs get the Hub
  options only.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ._version import DTYPE_KEYWORD_SINCE, LOW_CPU_MEM_USAGE_UNTIL, Release, installed_release

HUB_OPTIONS = ("revision", "cache_dir", "local_files_only", "token", "force_download")


def is_transformers_class(cls: type) -> bool:
    """`cls` is a transformers class or derives from one."""
    return any(base.__module__.partition(".")[0] == "transformers" for base in cls.__mro__)


def is_model(cls: type) -> bool:
    from transformers import PreTrainedModel

    return issubclass(cls, PreTrainedModel)


def dtype_keyword(release: Release) -> str:
    return "dtype" if release >= DTYPE_KEYWORD_SINCE else "torch_dtype"


def from_pretrained_kwargs(
    component_class: type, options: Mapping[str, Any], *, release: Release | None = None
) -> dict[str, Any]:
    """The keyword arguments `component_class.from_pretrained` should get for `options`.

    `release` is the transformers ``(major, minor)`` to target; the installed one by default.
    Options that are absent or None are not passed.
    """
    kwargs = {name: options[name] for name in HUB_OPTIONS if options.get(name) is not None}
    if is_model(component_class):
        kwargs.update(_model_kwargs(component_class, options, release or installed_release()))
    return kwargs


def _model_kwargs(cls: type, options: Mapping[str, Any], release: Release) -> dict[str, Any]:
    safetensors_only = options.get("use_safetensors") is not False
    kwargs: dict[str, Any] = {"use_safetensors": safetensors_only}
    if not safetensors_only and _takes_weights_only(cls):
        kwargs["weights_only"] = True
    if options.get("dtype") is not None:
        kwargs[dtype_keyword(release)] = options["dtype"]
    for name in ("variant", "device_map"):
        if options.get(name) is not None:
            kwargs[name] = options[name]
    if options.get("low_cpu_mem_usage") is not None and release < LOW_CPU_MEM_USAGE_UNTIL:
        kwargs["low_cpu_mem_usage"] = options["low_cpu_mem_usage"]
    return kwargs


def _takes_weights_only(cls: Any) -> bool:
    return "weights_only" in inspect.signature(cls.from_pretrained).parameters
