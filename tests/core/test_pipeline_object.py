"""The pipeline object: components, config, to/device/dtype, from_pipe, offload, helpers."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from diffusekit.pipeline import DiffusionPipeline

from ._toy_components import (
    OtherToyScheduler,
    ToyModel,
    ToyPipeline,
    ToyScheduler,
    ToyUnetOnlyPipeline,
    make_toy_pipeline,
)

pytestmark = pytest.mark.usefixtures("toy_components")


@pytest.fixture
def pipe() -> ToyPipeline:
    return make_toy_pipeline()


def storage(module: torch.nn.Module) -> set[int]:
    return {p.untyped_storage().data_ptr() for p in module.parameters()}


# ---------------------------------------------------------------------- components, config


def test_components_in_declaration_order(pipe: ToyPipeline) -> None:
    assert list(pipe.components) == [
        "unet",
        "scheduler",
        "tokenizer",
        "safety_checker",
        "feature_extractor",
    ]
    assert pipe.components["unet"] is pipe.unet
    assert pipe.components["safety_checker"] is None


def test_expected_components(pipe: ToyPipeline) -> None:
    assert ToyPipeline.expected_components() == (
        ["unet", "scheduler"],
        ["tokenizer", "safety_checker"],
    )


def test_config_follows_assignments(pipe: ToyPipeline) -> None:
    assert pipe.config["scheduler"] == ("diffusers", "ToyScheduler")
    pipe.scheduler = OtherToyScheduler.from_config(pipe.scheduler.config)
    assert pipe.config["scheduler"] == ("diffusers", "OtherToyScheduler")
    assert pipe.components["scheduler"] is pipe.scheduler
    pipe.tokenizer = None
    assert pipe.config["tokenizer"] == (None, None)
    assert pipe.config.requires_safety_checker is False
    assert pipe.config._class_name == "ToyPipeline"


def test_config_is_read_only(pipe: ToyPipeline) -> None:
    with pytest.raises(TypeError, match="read-only"):
        pipe.config["unet"] = ("x", "Y")


def test_repr_names_components_and_options(pipe: ToyPipeline) -> None:
    assert repr(pipe) == (
        "ToyPipeline(\n"
        "  unet: ToyModel\n"
        "  scheduler: ToyScheduler\n"
        "  tokenizer: ToyTokenizer\n"
        "  safety_checker: None\n"
        "  feature_extractor: None\n"
        "  requires_safety_checker=False\n"
        ")"
    )


# ------------------------------------------------------------------------ to, device, dtype


def test_to_dtype_converts_every_module(pipe: ToyPipeline) -> None:
    pipe.safety_checker = ToyModel()
    assert pipe.to(torch.float64) is pipe
    assert pipe.unet.dtype == torch.float64
    assert pipe.safety_checker.dtype == torch.float64
    assert pipe.dtype == torch.float64
    pipe.to("cpu", torch.float16)
    assert (pipe.dtype, pipe.device) == (torch.float16, torch.device("cpu"))
    pipe.to(dtype=torch.float32, device=torch.device("cpu"), silence_dtype_warnings=True)
    assert pipe.dtype == torch.float32


def test_to_rejects_what_is_not_a_device_or_dtype(pipe: ToyPipeline) -> None:
    with pytest.raises(TypeError, match=r"expected a device or a torch.dtype, found 3.5"):
        pipe.to(3.5)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['non_blocking'\]"):
        pipe.to("cpu", non_blocking=True)


def test_device_and_dtype_without_modules() -> None:
    empty = ToyUnetOnlyPipeline.__new__(ToyUnetOnlyPipeline)
    DiffusionPipeline.__init__(empty)
    assert (empty.device, empty.dtype) == (torch.device("cpu"), torch.float32)


# -------------------------------------------------------------------------------- from_pipe


def test_from_pipe_shares_components_without_new_storage(pipe: ToyPipeline) -> None:
    before = storage(pipe.unet)
    other = ToyUnetOnlyPipeline.from_pipe(pipe)
    assert type(other) is ToyUnetOnlyPipeline
    assert other.unet is pipe.unet and other.scheduler is pipe.scheduler
    assert storage(other.unet) == before
    assert other.config.strength == 0.5
    back = ToyPipeline.from_pipe(other)
    assert back.unet is pipe.unet
    assert back.tokenizer is None  # other never had one; optional


def test_from_pipe_overrides_and_carries_options(pipe: ToyPipeline) -> None:
    scheduler = OtherToyScheduler()
    same = DiffusionPipeline.from_pipe(pipe, scheduler=scheduler)
    assert type(same) is ToyPipeline
    assert same.scheduler is scheduler and pipe.scheduler is not scheduler
    assert same.tokenizer is pipe.tokenizer
    assert same.config.requires_safety_checker is False
    assert ToyUnetOnlyPipeline.from_pipe(pipe, strength=0.8).config.strength == 0.8


def test_from_pipe_errors(pipe: ToyPipeline) -> None:
    with pytest.raises(TypeError, match=r"ToyUnetOnlyPipeline.from_pipe: unexpected .*\['vae'\]"):
        ToyUnetOnlyPipeline.from_pipe(pipe, vae=1)
    with pytest.raises(ValueError, match=r"has no component\(s\) \['scheduler'\]"):
        ToyPipeline.from_pipe(pipe, scheduler=None)


def test_from_pipe_dtype_converts_the_shared_modules(pipe: ToyPipeline) -> None:
    other = ToyUnetOnlyPipeline.from_pipe(pipe, torch_dtype=torch.float64)
    assert other.dtype == torch.float64
    assert pipe.unet.dtype == torch.float64  # shared, so the original sees it too


# ------------------------------------------------------------------ progress bar, images


def test_progress_bar_config(pipe: ToyPipeline, capsys: pytest.CaptureFixture[str]) -> None:
    pipe.set_progress_bar_config(desc="toy")
    bar = pipe.progress_bar(total=3)
    assert bar.desc.startswith("toy") and bar.total == 3
    bar.close()
    pipe.set_progress_bar_config(disable=True)
    bar = pipe.progress_bar(range(2))
    assert bar.disable and list(bar) == [0, 1]
    with pytest.raises(ValueError, match="pass an iterable or a total"):
        pipe.progress_bar()
    assert ToyUnetOnlyPipeline.from_pipe(pipe).progress_bar(range(1)).disable


def test_numpy_to_pil() -> None:
    images = np.zeros((2, 3, 5, 3), dtype=np.float32)
    images[1] = 1.0
    pil = DiffusionPipeline.numpy_to_pil(images)
    assert [im.size for im in pil] == [(5, 3), (5, 3)]
    assert pil[0].getpixel((0, 0)) == (0, 0, 0) and pil[1].getpixel((4, 2)) == (255, 255, 255)
    assert DiffusionPipeline.numpy_to_pil(images[0, :, :, :1])[0].mode == "L"


# --------------------------------------------------------------- attention slicing, offload


def test_attention_slicing_reaches_every_module(pipe: ToyPipeline) -> None:
    pipe.safety_checker = ToyModel()
    pipe.enable_attention_slicing()
    assert (pipe.unet.attention_slice, pipe.safety_checker.attention_slice) == ("auto", "auto")
    pipe.enable_attention_slicing(2)
    assert pipe.unet.attention_slice == 2
    pipe.disable_attention_slicing()
    assert pipe.unet.attention_slice is None


class ExcludingPipeline(ToyPipeline):
    _exclude_from_cpu_offload: ClassVar[list[str]] = ["safety_checker"]


def test_model_cpu_offload_moves_each_model_when_called() -> None:
    base = make_toy_pipeline()
    pipe = ExcludingPipeline.from_pipe(base, safety_checker=ToyModel())
    moved: list[torch.nn.Module] = []
    original_to = torch.nn.Module.to

    def recording_to(self: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        moved.append(self)
        return original_to(self, *args, **kwargs)

    torch.nn.Module.to = recording_to  # type: ignore[method-assign]
    try:
        pipe.enable_model_cpu_offload(device="cpu")
        assert moved == [pipe.unet, pipe.safety_checker]  # to the CPU; excluded: to the device
        assert pipe._execution_device == torch.device("cpu")
        assert pipe._offload.device == torch.device("cpu")
        with pytest.raises(RuntimeError, match="call disable_model_cpu_offload"):
            pipe.to("cpu")
        moved.clear()
        out = pipe(torch.ones(1, 4))
        assert moved == [pipe.unet] and pipe.unet.calls == 1
        moved.clear()
        pipe(torch.ones(1, 4))
        assert moved == []  # already the active model
        pipe.safety_checker(torch.ones(1, 4))
        assert moved == []  # excluded: never offloaded
        pipe.disable_model_cpu_offload()
        assert pipe._offload is None
        pipe.unet(torch.ones(1, 4))
        assert moved == [pipe.unet]  # the active model goes back to the CPU; no more hooks
    finally:
        torch.nn.Module.to = original_to  # type: ignore[method-assign]
    assert torch.equal(out, pipe.unet(torch.ones(1, 4)))
    pipe.to("cpu")


# ----------------------------------------------------------------------- per-call state


def test_interrupt_is_per_thread(pipe: ToyPipeline) -> None:
    import threading

    pipe._interrupt = True
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(pipe.interrupt))
    thread.start()
    thread.join()
    assert pipe.interrupt is True and seen == [False]


def test_scheduler_swap_with_from_config_keeps_values(pipe: ToyPipeline) -> None:
    pipe.scheduler = ToyScheduler.from_config(pipe.scheduler.config, beta_end=0.1)
    assert pipe.scheduler.config.num_train_timesteps == 10
    assert pipe.scheduler.config.beta_end == 0.1
