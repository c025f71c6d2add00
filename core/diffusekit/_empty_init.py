"""Build a module whose parameters live on the meta device and whose buffers are real.

Why not simply ``with torch.device("meta")``: that also puts buffers on meta, and buffers that
a checkpoint does not hold (non-persistent ones: rotary tables, resampling kernels, position
ids) would then have no values, with nothing generic to recompute them from. Here only
parameters go to meta, as each is registered; buffers are computed for real, as in a normal
construction. Parameters cost nothing: their CPU storage is allocated uninitialised and freed
at once, and initialisers (``reset_parameters``) then run on meta tensors.

The switch is per thread: another thread building a module at the same time is unaffected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn

_local = threading.local()
_lock = threading.Lock()
_users = 0
_original_register_parameter = nn.Module.register_parameter


def _register_parameter(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
    _original_register_parameter(self, name, param)
    if param is None or not getattr(_local, "depth", 0) or param.device.type == "meta":
        return
    if type(param) is nn.Parameter:
        meta = nn.Parameter(param.detach().to("meta"), requires_grad=param.requires_grad)
        self._parameters[name] = meta


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Inside the block, every parameter registered by this thread is moved to meta."""
    global _users
    with _lock:
        if _users == 0:
            nn.Module.register_parameter = _register_parameter  # type: ignore[method-assign]
        _users += 1
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
        with _lock:
            _users -= 1
            if _users == 0:
                nn.Module.register_parameter = _original_register_parameter  # type: ignore[method-assign]


def meta_tensor_names(module: nn.Module) -> list[str]:
    """Names of parameters and buffers still on the meta device."""
    named: Any = [*module.named_parameters(), *module.named_buffers()]
    return [name for name, tensor in named if tensor.device.type == "meta"]
