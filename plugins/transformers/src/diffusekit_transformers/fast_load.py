"""Zero-copy loading of transformers models from a pipeline's component folder.

transformers' own ``from_pretrained`` spends most of a small model's load building its
checkpoint-conversion tables and running its general loading machinery. For the plain case (a
safetensors checkpoint whose keys and shapes are exactly the model's) none of that is needed:
the config is read, the model is built through transformers' ``_from_config`` with its
parameters on the meta device (`diffusekit._empty_init`, so buffers such as CLIP's
``position_ids`` are real), and tensors viewing the memory-mapped file are assigned.

Anything this does not handle returns None, and the caller uses transformers' loader, which
then gives exactly what it always gives. Set ``DIFFUSEKIT_TRANSFORMERS_LOADER=transformers``
to always use transformers' loader.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from diffusekit import _weights_files, hub
from diffusekit._empty_init import meta_tensor_names, parameters_on_meta
from diffusekit.errors import CheckpointError

from ._version import installed_release

ENV_VAR = "DIFFUSEKIT_TRANSFORMERS_LOADER"
OPT_OUT = "transformers"
STEM = "model"
HANDLED_OPTIONS = frozenset({"dtype", "variant", "use_safetensors", "low_cpu_mem_usage"})
SINCE: tuple[int, int] = (5, 0)
"""transformers 5 loads with ``dtype="auto"`` by default, which is what this reproduces."""


def load(component_class: type, path: str, options: Mapping[str, Any]) -> Any | None:
    """The model of `component_class` in folder `path`, or None to let transformers load it."""
    if not _options_handled(options) or installed_release() < SINCE:
        return None
    files = _weights(path, options.get("variant"))
    if files is None:
        return None
    config = component_class.config_class.from_pretrained(path)  # type: ignore[attr-defined]
    if not _config_handled(config):
        return None
    try:
        sources = _open(files)
    except CheckpointError:
        return None
    dtype = _target_dtype(options.get("dtype"), config, sources)
    if dtype is None:
        return None
    config.name_or_path = path
    model = _build(component_class, config, dtype)
    if model is None or not _assign(model, sources, dtype):
        return None
    model.eval()
    return model


def opted_out() -> bool:
    return os.environ.get(ENV_VAR, "").strip().lower() == OPT_OUT


def _options_handled(options: Mapping[str, Any]) -> bool:
    given = {key for key, value in options.items() if value is not None}
    if not given <= HANDLED_OPTIONS or options.get("use_safetensors") is False:
        return False
    dtype = options.get("dtype")
    return dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point)


def _weights(path: str, variant: str | None) -> Any | None:
    try:
        return _weights_files.locate(
            path,
            subfolder=None,
            variant=variant,
            use_safetensors=True,
            options=hub.HubOptions(),
            stem=STEM,
        )
    except CheckpointError:
        return None


def _config_handled(config: Any) -> bool:
    """Configs that make transformers do more than read, build and assign are left to it."""
    return (
        getattr(config, "quantization_config", None) is None
        and getattr(config, "transformers_weights", None) is None
        and not getattr(type(config), "extra_files", ())
    )


def _open(files: Any) -> dict[str, Any]:
    """Checkpoint key -> the safetensors file holding it (by the index for shards)."""
    return {
        key: source
        for source in _weights_files.open_files(files)
        for key in _weights_files.keys_to_load(files, source)
    }


def _target_dtype(
    requested: torch.dtype | None, config: Any, sources: dict[str, Any]
) -> torch.dtype | None:
    """transformers 5's ``dtype="auto"``: the request, else the config's, else the weights'."""
    if requested is not None:
        return requested
    declared = getattr(config, "dtype", None)
    if isinstance(declared, str):
        declared = getattr(torch, declared, None)
    if isinstance(declared, torch.dtype):
        return declared
    for key, source in sources.items():
        stored = source.tensor(key).dtype
        if stored.is_floating_point:
            return stored
    return None


def _build(component_class: Any, config: Any, dtype: torch.dtype) -> Any | None:
    """The model with meta parameters and its weight initialisation skipped: every parameter
    is about to be replaced, and the buffers are initialised after loading (`_assign`)."""
    from transformers.initialization import no_init_weights

    with parameters_on_meta(), no_init_weights():
        model = component_class._from_config(config, dtype=dtype)
    if _keeps_modules_in_fp32(model, dtype):
        return None
    return model


def _keeps_modules_in_fp32(model: Any, dtype: torch.dtype) -> bool:
    """transformers upcasts some modules of some models in half precision; we do not."""
    loose = getattr(model, "_keep_in_fp32_modules", None)
    strict = getattr(model, "_keep_in_fp32_modules_strict", None)
    half = dtype in (torch.float16, torch.bfloat16)
    return bool((loose and dtype == torch.float16) or (strict and half))


def _assign(model: Any, sources: dict[str, Any], dtype: torch.dtype) -> bool:
    """Assign the checkpoint's tensors; False (model untouched for users) when they do not fit."""
    expected = {key: tuple(t.shape) for key, t in model.state_dict(keep_vars=True).items()}
    tied = set(getattr(model, "all_tied_weights_keys", None) or ())
    missing = set(expected) - set(sources)
    if set(sources) - set(expected) or not missing <= tied:
        return False
    if any(tuple(sources[key].shape(key)) != expected[key] for key in sources):
        return False
    state = {key: _tensor(source, key, dtype) for key, source in sources.items()}
    model.load_state_dict(state, strict=not missing, assign=True)
    if tied:
        model.tie_weights()
    _initialise_buffers(model)
    return not meta_tensor_names(model)


def _initialise_buffers(model: Any) -> None:
    """Give non-persistent buffers the values transformers' loader gives them.

    transformers recomputes those buffers after loading with the model's own weight
    initialisation, which skips tensors flagged ``_is_hf_initialized``; flagging everything
    loaded leaves exactly the buffers to it.
    """
    for tensor in model.state_dict(keep_vars=True).values():
        tensor._is_hf_initialized = True
    model.initialize_weights()


def _tensor(source: Any, key: str, dtype: torch.dtype) -> torch.Tensor:
    """A view of the mapped file, or a converted copy when a floating tensor's dtype differs."""
    tensor = source.tensor(key)
    if tensor.is_floating_point() and tensor.dtype != dtype:
        return source.tensor(key, dtype)
    return tensor
