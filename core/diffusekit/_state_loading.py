"""Put checkpoint tensors into a built model: names, shapes, dtypes, and what is left over.

Rules (docs/weights.md repeats them for users):

- A checkpoint key the model lacks is renamed with the class's ``legacy_key_renames``
  (``re.sub`` pairs, applied in order) when the result is a key the model has and the
  checkpoint does not already hold; otherwise it is unexpected: a warning names it.
- A model key the checkpoint lacks is missing: an error names it when the model was built on
  the meta device (there is no value to fall back to), a warning otherwise.
- A shape mismatch is an error naming the key and both shapes.
- Floating tensors take the dtype the model holds for them after `cast_floating`.

Tensors are put in place directly (`Slots`), the way ``load_state_dict`` would, but without
its per-module walk over the whole batch (a third of an SD UNet's load time). A model in which
some module customises state-dict loading or saving (hooks, overridden methods, extra state)
goes through ``state_dict``/``load_state_dict`` instead, so its customisation still runs.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Container, Iterable
from pathlib import Path

import torch
from torch import nn

from ._weights_files import TensorSource
from .errors import CheckpointError, DiffusekitWarning

Renames = tuple[tuple[str, str], ...]
_LISTED = 20


def in_modules(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether the dotted `name` lies inside a module named by one of `patterns`."""
    dotted = f".{name}."
    return any(f".{pattern}." in dotted for pattern in patterns)


def target_dtype(
    name: str, tensor: torch.Tensor, dtype: torch.dtype | None, keep_in_fp32: tuple[str, ...]
) -> torch.dtype:
    if dtype is None or not tensor.is_floating_point():
        return tensor.dtype
    if keep_in_fp32 and torch.finfo(dtype).bits < 32 and in_modules(name, keep_in_fp32):
        return torch.float32
    return dtype


def cast_floating(
    model: nn.Module, dtype: torch.dtype | None, keep_in_fp32: tuple[str, ...] = ()
) -> None:
    """Cast floating parameters and buffers to `dtype` (fp32 inside `keep_in_fp32` modules)."""
    if dtype is None:
        return
    with torch.no_grad():
        for prefix, module in model.named_modules():
            for slots in (module._parameters, module._buffers):
                for leaf, tensor in slots.items():
                    if tensor is None:
                        continue
                    wanted = target_dtype(
                        f"{prefix}.{leaf}".lstrip("."), tensor, dtype, keep_in_fp32
                    )
                    if tensor.dtype != wanted:
                        if isinstance(tensor, nn.Parameter):
                            tensor.data = tensor.data.to(wanted)
                        else:
                            slots[leaf] = tensor.to(wanted)


def plan_names(
    checkpoint_keys: Iterable[str], model_keys: Container[str], renames: Renames
) -> dict[str, str | None]:
    """Checkpoint key -> model key (None: unexpected), applying legacy renames."""
    keys = list(checkpoint_keys)
    present = set(keys)
    plan: dict[str, str | None] = {}
    for key in keys:
        if key in model_keys:
            plan[key] = key
            continue
        renamed = key
        for pattern, replacement in renames:
            renamed = re.sub(pattern, replacement, renamed)
        usable = renamed != key and renamed in model_keys and renamed not in present
        plan[key] = renamed if usable else None
    return plan


Slot = tuple[nn.Module, str, bool]
"""Where a state-dict entry lives: (module, attribute name, whether it is a parameter)."""

_CUSTOMISABLE = (
    "_load_from_state_dict", "_save_to_state_dict", "get_extra_state", "set_extra_state",
    "state_dict", "load_state_dict", "__setattr__", "register_parameter", "register_buffer",
)  # fmt: skip
_GLOBAL_HOOKS = ("_global_parameter_registration_hooks", "_global_buffer_registration_hooks")


def slots(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, Slot]] | None:
    """``state_dict(keep_vars=True)`` and where each entry lives, from one walk of `model`.

    None when direct assignment could differ from ``load_state_dict``: a module customises
    state-dict loading or saving, a registration hook is installed, or torch's
    swap-on-conversion mode is on.
    """
    if torch.__future__.get_swap_module_params_on_conversion() or any(
        getattr(torch.nn.modules.module, name, None) for name in _GLOBAL_HOOKS
    ):
        return None
    expected: dict[str, torch.Tensor] = {}
    where: dict[str, Slot] = {}
    classes: set[type] = set()
    for prefix, module in named_modules(model, remove_duplicate=False):
        classes.add(type(module))
        if (
            module._load_state_dict_pre_hooks
            or module._load_state_dict_post_hooks
            or module._state_dict_hooks
            or module._state_dict_pre_hooks
        ):
            return None
        dot = f"{prefix}." if prefix else ""
        for leaf, parameter in module._parameters.items():
            if parameter is not None:
                expected[dot + leaf] = parameter
                where[dot + leaf] = (module, leaf, True)
        transient = module._non_persistent_buffers_set
        for leaf, buffer in module._buffers.items():
            if buffer is not None and leaf not in transient:
                expected[dot + leaf] = buffer
                where[dot + leaf] = (module, leaf, False)
    if any(_customised(cls) for cls in classes):
        return None
    return expected, where


def named_modules(model: nn.Module, *, remove_duplicate: bool) -> list[tuple[str, nn.Module]]:
    """``list(model.named_modules(remove_duplicate=...))``, without its nested generators."""
    seen: set[int] = set()
    found: list[tuple[str, nn.Module]] = []
    stack: list[tuple[str, nn.Module]] = [("", model)]
    while stack:
        prefix, module = stack.pop()
        if remove_duplicate:
            if id(module) in seen:
                continue
            seen.add(id(module))
        found.append((prefix, module))
        dot = f"{prefix}." if prefix else ""
        children = reversed(module._modules.items())
        stack.extend((dot + name, child) for name, child in children if child is not None)
    return found


def _customised(cls: type) -> bool:
    return any(getattr(cls, name) is not getattr(nn.Module, name) for name in _CUSTOMISABLE)


def put(
    where: dict[str, Slot],
    expected: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    *,
    assign: bool,
) -> None:
    """What ``model.load_state_dict(batch, strict=False, assign=assign)`` does, for shapes that
    already match: assign (parameters keep their ``requires_grad``) or copy in place.

    Entries are placed in module order, as ``load_state_dict`` places them, so a module reached
    under two names ends with the same tensor either way.
    """
    with torch.no_grad():
        for name, (module, leaf, is_parameter) in where.items():
            tensor = batch.get(name)
            if tensor is None:
                continue
            if not assign:
                expected[name].copy_(tensor)
            elif is_parameter:
                old = expected[name]
                module._parameters[leaf] = nn.Parameter(tensor, requires_grad=old.requires_grad)
            else:
                module._buffers[leaf] = tensor


def load_files(
    model: nn.Module,
    files: Iterable[tuple[TensorSource, list[str]]],
    *,
    all_keys: Iterable[str] | None,
    renames: Renames,
    assign: bool,
) -> tuple[list[str], list[str]]:
    """Load each file's `keys` into `model`; return (missing, unexpected) key names.

    Each tensor is read in the dtype the model holds for it, so a conversion never needs the
    whole file in memory in its original dtype.
    """
    direct = slots(model)
    expected = direct[0] if direct is not None else model.state_dict(keep_vars=True)
    shared_plan = plan_names(all_keys, expected, renames) if all_keys is not None else None
    loaded: set[str] = set()
    unexpected: list[str] = []
    for source, keys in files:
        plan = shared_plan if shared_plan is not None else plan_names(keys, expected, renames)
        batch = {}
        for key in keys:
            name = plan.get(key)
            if name is None:
                unexpected.append(key)
                continue
            target = expected[name]
            _check_shape(source.path, key, name, source.shape(key), tuple(target.shape))
            batch[name] = source.tensor(key, target.dtype)
        if direct is not None:
            put(direct[1], expected, batch, assign=assign)
        else:
            model.load_state_dict(batch, strict=False, assign=assign)
        loaded.update(batch)
    return sorted(expected.keys() - loaded), sorted(unexpected)


def _check_shape(
    path: Path, key: str, name: str, found: tuple[int, ...], wanted: tuple[int, ...]
) -> None:
    if found != wanted:
        shown = key if key == name else f"{key} (renamed to {name})"
        raise CheckpointError(
            f"{path}: {shown} has shape {found} in the checkpoint, but the model expects {wanted}"
        )


def report(
    cls_name: str,
    where: str,
    missing: list[str],
    unexpected: list[str],
    *,
    missing_is_error: bool,
) -> None:
    if missing:
        message = (
            f"{where}: {len(missing)} weights that {cls_name} needs are missing from the "
            f"checkpoint: {_names(missing)}"
        )
        if missing_is_error:
            raise CheckpointError(message)
        warnings.warn(
            message + " (they keep their initial values)", DiffusekitWarning, stacklevel=3
        )
    if unexpected:
        warnings.warn(
            f"{where}: {len(unexpected)} checkpoint weights are not used by {cls_name}: "
            f"{_names(unexpected)}",
            DiffusekitWarning,
            stacklevel=3,
        )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f", ... ({len(names) - _LISTED} more)" if len(names) > _LISTED else "")
