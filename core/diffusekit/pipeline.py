"""`DiffusionPipeline`: components plus the code that runs them, loaded from a checkpoint.

A pipeline subclass names its components in ``__init__`` and registers them::

    class MyPipeline(DiffusionPipeline):
        _optional_components = ["safety_checker"]

        def __init__(self, unet, scheduler, safety_checker=None, requires_safety_checker=True):
            super().__init__()
            self.register_modules(unet=unet, scheduler=scheduler, safety_checker=safety_checker)
            self.register_to_config(requires_safety_checker=requires_safety_checker)

Its ``__call__`` runs the denoising loop in `diffusekit.kernel`. Loading, saving and the
offload helpers live in their own modules; this one is the object users hold.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from . import _pipeline_loading, _pipeline_saving, hub_upload
from .config import REFERENCE_FORMAT_VERSION, FrozenConfig

if TYPE_CHECKING:
    import torch
    from PIL import Image

P = TypeVar("P", bound="DiffusionPipeline")


class _CallState(threading.local):
    """State of the call running on this thread (so concurrent calls never share it)."""

    interrupt: bool = False
    num_timesteps: int = 0
    guidance_scale: float = 1.0


class DiffusionPipeline:
    """Base class of every pipeline: component bookkeeping, loading, saving, devices."""

    config_name: ClassVar[str] = "model_index.json"
    _optional_components: ClassVar[list[str]] = []
    _callback_tensor_inputs: ClassVar[list[str]] = ["latents"]
    _exclude_from_cpu_offload: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self._component_names: list[str] = []
        self._config_values: dict[str, Any] = {}
        self._call = _CallState()
        self._progress_bar_config: dict[str, Any] = {}
        self._name_or_path: str | None = None
        self._offload: Any = None

    # ------------------------------------------------------------------------- registration

    def register_modules(self, **components: Any) -> None:
        """Make each keyword a component: saved in its own folder, listed in `components`."""
        for name, component in components.items():
            if name not in self._component_names:
                self._component_names.append(name)
            setattr(self, name, component)

    def register_to_config(self, **values: Any) -> None:
        """Plain ``__init__`` arguments recorded in ``model_index.json`` (not components)."""
        self._config_values.update(values)

    @property
    def components(self) -> dict[str, Any]:
        """Every component by name (None for optional ones left out), in declaration order."""
        return {name: getattr(self, name) for name in self._component_names}

    @property
    def config(self) -> FrozenConfig:
        """What ``model_index.json`` says about this pipeline, always in sync with it."""
        from . import registry

        data: dict[str, Any] = {
            "_class_name": registry.name_of(type(self))[1],
            "_diffusers_version": REFERENCE_FORMAT_VERSION,
        }
        if self._name_or_path is not None:
            data["_name_or_path"] = self._name_or_path
        for name, component in self.components.items():
            data[name] = (None, None) if component is None else registry.name_of(type(component))
        data.update(self._config_values)
        return FrozenConfig(data)

    @classmethod
    def expected_components(cls) -> tuple[list[str], list[str]]:
        """(required, optional) component names, from ``__init__``'s signature."""
        return _pipeline_loading.expected_components(cls)

    # ------------------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(
        cls: type[P], pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any
    ) -> P:
        """Load a pipeline from a checkpoint folder or Hub repo id (see docs/pipelines.md).

        Keyword arguments named after components replace the stored ones; loading options
        (``dtype``/``torch_dtype``, ``variant``, ``use_safetensors``, ``low_cpu_mem_usage``,
        ``device_map``, ``revision``, ``cache_dir``, ``local_files_only``, ``token``,
        ``trust_remote_code``, ``custom_pipeline``) are passed to each component's loader that
        takes them; anything else goes to the pipeline's ``__init__``.
        """
        return _pipeline_loading.load_pipeline(cls, pretrained_model_name_or_path, kwargs)

    @classmethod
    def from_pipe(cls: type[P], pipeline: DiffusionPipeline, **kwargs: Any) -> P:
        """A pipeline of this class sharing `pipeline`'s component objects (no weights copied).

        Keyword arguments replace components or ``__init__`` options; options recorded by the
        original (``requires_safety_checker=False``) carry over. ``dtype``/``torch_dtype``
        converts the result.
        """
        return _pipeline_loading.pipeline_from_pipe(cls, pipeline, kwargs)

    def save_pretrained(
        self,
        save_directory: str | os.PathLike[str],
        safe_serialization: bool = True,
        variant: str | None = None,
        max_shard_size: int | str | None = None,
        push_to_hub: bool = False,
        **kwargs: Any,
    ) -> None:
        """Write one folder per component and ``model_index.json``, atomically.

        With ``push_to_hub=True`` the folder is then uploaded to the Hub (`diffusekit.hub_upload`:
        ``repo_id``, ``commit_message``, ``private``, ``token``, ``create_pr``).
        """
        _pipeline_saving.save_pipeline(
            self,
            save_directory,
            safe_serialization=safe_serialization,
            variant=variant,
            max_shard_size=max_shard_size,
        )
        if push_to_hub:
            message = f"Upload {type(self).__name__}"
            hub_upload.push_saved_folder(save_directory, kwargs, kind="pipeline", message=message)

    # ------------------------------------------------------------------------ device, dtype

    def _modules(self) -> list[tuple[str, torch.nn.Module]]:
        import torch

        return [
            (name, component)
            for name, component in self.components.items()
            if isinstance(component, torch.nn.Module)
        ]

    def to(self: P, *args: Any, **kwargs: Any) -> P:
        """Move every module: ``to("cuda")``, ``to(torch.float16)``, ``to("cuda", dtype)``.

        ``silence_dtype_warnings=`` is accepted (and ignored) for code written for the
        reference; no dtype warning is emitted here.
        """
        device, dtype = _parse_to_arguments(args, kwargs)
        if device is not None and self._offload is not None:
            raise RuntimeError(
                "to(device): this pipeline has model CPU offload enabled, which moves each model "
                "to the execution device itself; call disable_model_cpu_offload() first"
            )
        for _, module in self._modules():
            module.to(device=device, dtype=dtype)
        return self

    @property
    def device(self) -> torch.device:
        """The device of the first module (CPU when there is none)."""
        import torch

        for _, module in self._modules():
            for tensor in _first_tensors(module):
                return tensor.device
        return torch.device("cpu")

    @property
    def _execution_device(self) -> torch.device:
        """Where the denoising runs: the offload target when offloading, else `device`."""
        if self._offload is not None:
            return self._offload.device
        return self.device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the first module (float32 when there is none)."""
        import torch

        for _, module in self._modules():
            for tensor in _first_tensors(module):
                if tensor.is_floating_point():
                    return tensor.dtype
        return torch.float32

    def enable_model_cpu_offload(
        self, gpu_id: int | None = None, device: torch.device | str = "cuda"
    ) -> None:
        """Keep models on the CPU and move each to `device` only while it runs.

        One model is on the accelerator at a time; memory drops to the largest model's
        size at some cost in transfer time per call. Components named in
        `_exclude_from_cpu_offload` move to `device` and stay there.
        """
        from ._offload import ModelOffload

        if self._offload is not None:
            self._offload.remove()
        target = f"{device}:{gpu_id}" if gpu_id is not None else device
        skip = set(self._exclude_from_cpu_offload)
        modules = [module for name, module in self._modules() if name not in skip]
        self._offload = ModelOffload(modules, target)
        for name, module in self._modules():
            if name in skip:
                module.to(self._offload.device)

    def disable_model_cpu_offload(self) -> None:
        if self._offload is not None:
            self._offload.remove()
            self._offload = None

    # ---------------------------------------------------------------------------- attention

    def enable_attention_slicing(self, slice_size: str | int | None = "auto") -> None:
        """Compute attention in slices in every component that supports it (less memory)."""
        for _, module in self._modules():
            setter = getattr(module, "set_attention_slice", None)
            if callable(setter):
                setter(slice_size)

    def disable_attention_slicing(self) -> None:
        self.enable_attention_slicing(None)

    # --------------------------------------------------------------------- per-call state

    @property
    def interrupt(self) -> bool:
        """True once a callback set ``pipe._interrupt = True`` during the current call."""
        return self._call.interrupt

    @property
    def _interrupt(self) -> bool:
        return self._call.interrupt

    @_interrupt.setter
    def _interrupt(self, value: bool) -> None:
        self._call.interrupt = bool(value)

    @property
    def num_timesteps(self) -> int:
        return self._call.num_timesteps

    @property
    def guidance_scale(self) -> float:
        return self._call.guidance_scale

    @property
    def do_classifier_free_guidance(self) -> bool:
        return self._call.guidance_scale > 1.0

    # ------------------------------------------------------------------- progress, images

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        """Options for the tqdm progress bar of every later call (``disable=True`` hides it)."""
        self._progress_bar_config.update(kwargs)

    def progress_bar(self, iterable: Iterable[Any] | None = None, total: int | None = None) -> Any:
        from tqdm.auto import tqdm

        if iterable is None and total is None:
            raise ValueError("progress_bar: pass an iterable or a total")
        return tqdm(iterable, total=total, **self._progress_bar_config)

    @staticmethod
    def numpy_to_pil(images: Any) -> list[Image.Image]:
        from ._image_arrays import numpy_to_pil

        return numpy_to_pil(images)

    # ------------------------------------------------------------------------------ display

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for name, component in self.components.items():
            shown = "None" if component is None else type(component).__name__
            lines.append(f"  {name}: {shown}")
        for key, value in self._config_values.items():
            lines.append(f"  {key}={value!r}")
        if self._name_or_path is not None:
            lines.append(f"  loaded from {self._name_or_path}")
        return "\n".join(lines) + "\n)"


def _first_tensors(module: torch.nn.Module) -> Iterable[torch.Tensor]:
    yield from module.parameters()
    yield from module.buffers()


def _parse_to_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    import torch

    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", kwargs.pop("torch_dtype", None))
    kwargs.pop("silence_dtype_warnings", None)
    if kwargs:
        raise TypeError(f"to(): unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, torch.dtype):
            dtype = arg
        elif isinstance(arg, (str, torch.device, int)):
            device = arg
        else:
            raise TypeError(f"to(): expected a device or a torch.dtype, found {arg!r}")
    return device, dtype
