"""Which loading options each component's `from_pretrained` receives.

A pipeline call carries one set of options (dtype, variant, ...) for components from many
libraries. Our own loaders name what they accept in their signatures, so the core passes
exactly those. A foreign library's plugin answers the `diffusekit_load_options` hook
instead (its loaders take ``**kwargs`` and may call the dtype something else).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from . import _hook_manager

OPTION_NAMES = ("dtype", "variant", "use_safetensors", "low_cpu_mem_usage", "device_map")


def dtype_for(component: str, dtype: Any) -> Any:
    """`dtype` may be one dtype or a mapping per component with a ``"default"`` entry."""
    if isinstance(dtype, Mapping):
        return dtype.get(component, dtype.get("default"))
    return dtype


def options_for(library: str, cls: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments to give `cls.from_pretrained` out of `options`."""
    given = {key: value for key, value in options.items() if value is not None}
    answer = _hook_manager.load_options(library, cls, given)
    if answer is not None:
        return dict(answer)
    parameters = inspect.signature(cls.from_pretrained).parameters
    chosen: dict[str, Any] = {}
    for key, value in given.items():
        if key == "dtype" and "dtype" not in parameters and "torch_dtype" in parameters:
            chosen["torch_dtype"] = value
        elif key in parameters:
            chosen[key] = value
    return chosen
