"""``device_map="balanced"`` for pipelines: whole models spread over the visible GPUs.

Models are never split: each goes, largest first, to the GPU holding the fewest bytes so far.
With one GPU everything goes there; with none the pipeline stays on the CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .pipeline import DiffusionPipeline


def module_bytes(module: torch.nn.Module) -> int:
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def balance(pipeline: DiffusionPipeline) -> dict[str, torch.device]:
    """Move each model of `pipeline` to a GPU; returns where each went."""
    if not torch.cuda.is_available():
        return {}
    devices = [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    load = dict.fromkeys(devices, 0)
    placed: dict[str, torch.device] = {}
    modules = sorted(pipeline._modules(), key=lambda item: -module_bytes(item[1]))
    for name, module in modules:
        device = min(devices, key=lambda d: load[d])
        module.to(device)
        load[device] += module_bytes(module)
        placed[name] = device
    return placed
