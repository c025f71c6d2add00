"""Direct assignment of checkpoint tensors (`_state_loading.slots`/`put`) against torch's
``load_state_dict`` path: same tensors, same errors, and a fallback whenever a module
customises state-dict handling."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from diffusekit import _empty_init, _safetensors_io, _state_loading
from diffusekit.errors import CheckpointError, DiffusekitWarning

from .test_modeling import Tiny, _weights, make


@contextmanager
def torch_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Force the ``state_dict``/``load_state_dict`` path (the one used before `put`)."""
    with monkeypatch.context() as patch:
        patch.setattr(_state_loading, "slots", lambda model: None)
        yield


def describe(model: nn.Module) -> dict[str, tuple[Any, ...]]:
    """Every parameter and buffer: values, dtype, kind, which storage, where in it."""
    named = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    storages: dict[int, int] = {}
    return {
        name: (
            tensor.detach().clone(),
            tensor.dtype,
            type(tensor),
            tensor.requires_grad,
            storages.setdefault(tensor.untyped_storage().data_ptr(), len(storages)),
            tensor.storage_offset(),
            tensor.stride(),
        )
        for name, tensor in named.items()
    }


def assert_same_description(a: dict[str, tuple[Any, ...]], b: dict[str, tuple[Any, ...]]) -> None:
    assert list(a) == list(b)
    for name in a:
        assert torch.equal(a[name][0], b[name][0]), name
        assert a[name][1:] == b[name][1:], name


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"dtype": torch.bfloat16},
        {"low_cpu_mem_usage": False},
        {"low_cpu_mem_usage": False, "dtype": torch.float16},
    ],
)
def test_direct_assignment_gives_what_load_state_dict_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    make(seed=3).save_pretrained(tmp_path)
    torch.manual_seed(0)
    fast = Tiny.from_pretrained(tmp_path, **options)
    with torch_path(monkeypatch):
        torch.manual_seed(0)
        slow = Tiny.from_pretrained(tmp_path, **options)
    got, want = describe(fast), describe(slow)
    if options.get("low_cpu_mem_usage", True):
        assert_same_description(got, want)
    else:
        for name in want:
            assert torch.equal(got[name][0], want[name][0]) and got[name][1:4] == want[name][1:4]


def test_copying_load_keeps_the_built_tensors(tmp_path: Path) -> None:
    make(seed=1).save_pretrained(tmp_path)
    built: dict[str, torch.Tensor] = {}

    class Recording(Tiny):
        def __init__(self, **config: Any) -> None:
            super().__init__(**config)
            built.update(self.state_dict(keep_vars=True))

    loaded = Recording.from_pretrained(tmp_path, low_cpu_mem_usage=False)
    for name, tensor in loaded.state_dict(keep_vars=True).items():
        assert tensor is built[name], name
    assert torch.equal(loaded.layers[1].weight, make(seed=1).layers[1].weight)


def test_frozen_parameters_stay_frozen(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)

    class Frozen(Tiny):
        def __init__(self, **config: Any) -> None:
            super().__init__(**config)
            self.norm.requires_grad_(False)

    loaded = Frozen.from_pretrained(tmp_path)
    assert not loaded.norm.weight.requires_grad and loaded.layers[0].weight.requires_grad
    assert isinstance(loaded.norm.weight, nn.Parameter)


def test_a_module_reached_twice_ends_as_load_state_dict_leaves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Shared(Tiny):
        def __init__(self, **config: Any) -> None:
            super().__init__(**config)
            self.alias = self.layers[0]

    model = make()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["alias.weight"] = torch.full_like(state["layers.0.weight"], 7.0)
    state["alias.bias"] = torch.full_like(state["layers.0.bias"], 7.0)
    model.save_config(tmp_path)
    _safetensors_io.save_file(state, _weights(tmp_path), metadata={"format": "pt"})
    fast = Shared.from_pretrained(tmp_path)
    with torch_path(monkeypatch):
        slow = Shared.from_pretrained(tmp_path)
    assert fast.alias is fast.layers[0]
    assert torch.equal(fast.layers[0].weight, slow.layers[0].weight)
    assert torch.equal(fast.alias.bias, slow.alias.bias)


def _error_or_warnings(load: Callable[[], Any]) -> tuple[str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            load()
            error = ""
        except CheckpointError as exc:
            error = str(exc)
    return error, [str(w.message) for w in caught if issubclass(w.category, DiffusekitWarning)]


@pytest.mark.parametrize("case", ["missing", "unexpected", "shape", "legacy"])
@pytest.mark.parametrize("low_cpu_mem_usage", [True, False])
def test_errors_and_warnings_are_those_of_load_state_dict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, low_cpu_mem_usage: bool
) -> None:
    model = make()
    model.save_config(tmp_path)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if case == "missing":
        del state["layers.1.bias"]
    elif case == "unexpected":
        state["extra.weight"] = torch.zeros(2)
    elif case == "shape":
        state["layers.0.weight"] = torch.zeros(3, 8)
    else:
        state["blocks.0.query.weight"] = state.pop("blocks.0.to_q.weight")
    _safetensors_io.save_file(state, _weights(tmp_path), metadata={"format": "pt"})

    def load() -> Tiny:
        return Tiny.from_pretrained(tmp_path, low_cpu_mem_usage=low_cpu_mem_usage)

    fast = _error_or_warnings(load)
    with torch_path(monkeypatch):
        slow = _error_or_warnings(load)
    assert fast == slow
    assert fast != ("", []) or case == "legacy"


class Customised(nn.Linear):
    """A layer whose loading is its own: doubles the weight it is given."""

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        key = prefix + "weight"
        if key in state_dict:
            state_dict[key] = state_dict[key] * 2
        super()._load_from_state_dict(state_dict, prefix, *args)


class WithCustomised(Tiny):
    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.layers[0] = Customised(self.config.width, self.config.width)


def test_customised_loading_still_runs(tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path)
    for low in (True, False):
        loaded = WithCustomised.from_pretrained(tmp_path, low_cpu_mem_usage=low)
        assert torch.equal(loaded.layers[0].weight, model.layers[0].weight * 2)
        assert torch.equal(loaded.layers[1].weight, model.layers[1].weight)


def _with_pre_hook(model: nn.Module) -> None:
    model.layers[1].register_load_state_dict_pre_hook(lambda *args: None)


def _with_post_hook(model: nn.Module) -> None:
    model.register_load_state_dict_post_hook(lambda module, keys: None)


def _with_state_dict_hook(model: nn.Module) -> None:
    model.norm.register_state_dict_post_hook(lambda *args: None)


class Extra(nn.Module):
    def get_extra_state(self) -> Any:
        return torch.zeros(1)

    def set_extra_state(self, state: Any) -> None:
        pass


def _with_extra_state(model: nn.Module) -> None:
    model.extra = Extra()


@pytest.mark.parametrize(
    "customise", [_with_pre_hook, _with_post_hook, _with_state_dict_hook, _with_extra_state]
)
def test_customised_models_take_the_torch_path(customise: Callable[[nn.Module], None]) -> None:
    model = make()
    assert _state_loading.slots(model) is not None
    customise(model)
    assert _state_loading.slots(model) is None


def test_customised_class_and_global_modes_take_the_torch_path() -> None:
    assert _state_loading.slots(WithCustomised()) is None
    model = make()
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        assert _state_loading.slots(model) is None
    finally:
        torch.__future__.set_swap_module_params_on_conversion(False)
    handle = nn.modules.module.register_module_parameter_registration_hook(lambda *args: None)
    try:
        assert _state_loading.slots(model) is None
    finally:
        handle.remove()
    assert _state_loading.slots(model) is not None


def test_slots_match_state_dict() -> None:
    model = make()
    model.alias = model.layers[0]
    found = _state_loading.slots(model)
    assert found is not None
    expected, where = found
    state = model.state_dict(keep_vars=True)
    assert list(expected) == list(state) == list(where)
    assert all(expected[name] is state[name] for name in state)
    assert "freqs" not in expected
    assert where["alias.weight"] == (model.layers[0], "weight", True)
    assert where["scale"] == (model, "scale", False)


def test_meta_tensor_names_match_named_parameters_and_buffers() -> None:
    with _empty_init.parameters_on_meta():
        model = make()
    model.alias = model.layers[0]
    model.register_buffer("later", torch.empty(2, device="meta"))
    expected = [
        name
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]
        if tensor.device.type == "meta"
    ]
    assert "alias.weight" not in expected and "later" in expected
    assert _empty_init.meta_tensor_names(model) == expected
    assert _empty_init.meta_tensor_names(make()) == []


def test_built_meta_parameters_keep_layout_and_flags() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.t = nn.Parameter(torch.empty(3, 4).t(), requires_grad=False)

    with _empty_init.parameters_on_meta():
        odd = Odd()
    assert odd.t.is_meta and odd.t.shape == (4, 3) and odd.t.stride() == (1, 4)
    assert isinstance(odd.t, nn.Parameter) and not odd.t.requires_grad


def _write_raw(path: Path, header: bytes) -> None:
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b'{"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}', "unknown dtype"),
        (b'{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}', "list of sizes"),
        (b'{"w": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}}', "list of sizes"),
        (b'{"w": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}}', "list of sizes"),
        (b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}', "bad data_offsets"),
    ],
)
def test_more_corrupt_headers(tmp_path: Path, header: bytes, message: str) -> None:
    make().save_config(tmp_path)
    _write_raw(_weights(tmp_path), header)
    with pytest.raises(CheckpointError, match=message) as info:
        Tiny.from_pretrained(tmp_path)
    assert str(_weights(tmp_path)) in str(info.value)


def test_empty_and_scalar_tensors_view_the_file(tmp_path: Path) -> None:
    tensors = {"e": torch.zeros(0, 3), "s": torch.tensor(2.5), "m": torch.arange(6.0).view(2, 3)}
    _safetensors_io.save_file(tensors, tmp_path / "x.safetensors")
    loaded = _safetensors_io.load_file(tmp_path / "x.safetensors")
    for name, tensor in tensors.items():
        assert torch.equal(loaded[name], tensor)
        assert loaded[name].stride() == tensor.stride() and loaded[name].is_contiguous()


@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_modules_walk_matches_torch(remove_duplicate: bool) -> None:
    model = make()
    model.alias = model.layers[0]
    model.blocks[1]["again"] = model.blocks[0]
    model.layers.append(None)  # type: ignore[arg-type]
    ours = _state_loading.named_modules(model, remove_duplicate=remove_duplicate)
    theirs = list(model.named_modules(remove_duplicate=remove_duplicate))
    assert [(name, id(m)) for name, m in ours] == [(name, id(m)) for name, m in theirs]
    assert len(ours) != len(list(model.named_modules(remove_duplicate=not remove_duplicate)))
