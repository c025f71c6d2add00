"""Model CPU offload: each model sits on the CPU and visits the accelerator while it runs."""

from __future__ import annotations

from typing import Any

import torch


class ModelOffload:
    """Forward pre-hooks that bring a model to `device` and send the previous one back.

    Only one model occupies the accelerator at a time. The hooks run once per model call,
    not per layer, so the cost is one transfer per model switch.
    """

    def __init__(self, modules: list[torch.nn.Module], device: str | torch.device) -> None:
        self.device = torch.device(device)
        self._active: torch.nn.Module | None = None
        self._handles: list[Any] = []
        for module in modules:
            module.to("cpu")
            for part in (module, *module.children()):
                hook = self._hook_for(module)
                self._handles.append(part.register_forward_pre_hook(hook))

    def _hook_for(self, module: torch.nn.Module) -> Any:
        """Hooks sit on the model and its direct children, so calls such as ``vae.decode``
        that bypass the model's own ``forward`` still bring the whole model over."""
        return lambda _part, _args: self._activate(module)

    def _activate(self, module: torch.nn.Module) -> None:
        if self._active is module:
            return
        if self._active is not None:
            self._active.to("cpu")
        module.to(self.device)
        self._active = module

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._active is not None:
            self._active.to("cpu")
            self._active = None
