"""`ModelMixin`: the base of every network, with the reference's weights files.

A model is a `torch.nn.Module` whose configuration is a pydantic model (see
`diffusekit.config`). Loading builds it with its parameters on the meta device and then
assigns tensors that view memory-mapped safetensors files, so a load costs one copy of the
weights (the page cache's) and no initialisation work. docs/weights.md is the user guide.

This is the only core module that imports torch.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from . import _empty_init, _files, _state_loading, _weights_files, hub, hub_upload
from .config import ConfigMixin

Self = TypeVar("Self", bound="ModelMixin")
DeviceMap = str | torch.device | dict[str, Any] | None
_SPLITTING_DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")


class ModelMixin(nn.Module, ConfigMixin):
    """Base class of models: ``config.json`` plus ``diffusion_pytorch_model*.safetensors``.

    Subclasses set `config_class` and build their layers from ``self.config`` in ``__init__``::

        class TinyModel(ModelMixin):
            config_class = TinyConfig

            def __init__(self, **config):
                super().__init__(**config)
                self.proj = nn.Linear(self.config.width, self.config.width)

    Class attributes a subclass may set:

    `legacy_key_renames`
        ``(regex, replacement)`` pairs applied with ``re.sub``, in order, to checkpoint keys
        the model does not have, so checkpoints written with older key names still load.
    `keep_in_fp32_modules`
        Dotted module names (``"time_embedding"``, ``"mid_block.attentions"``) whose floating
        tensors stay float32 when a lower-precision dtype is requested.
    """

    config_name: ClassVar[str] = "config.json"
    legacy_key_renames: ClassVar[tuple[tuple[str, str], ...]] = ()
    keep_in_fp32_modules: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **config: Any) -> None:
        nn.Module.__init__(self)
        self._register_config(config)

    # -------------------------------------------------------------------------------- loading

    @classmethod
    def from_pretrained(
        cls: type[Self],
        pretrained_model_name_or_path: str | os.PathLike[str],
        subfolder: str | None = None,
        torch_dtype: torch.dtype | None = None,
        variant: str | None = None,
        use_safetensors: bool | None = None,
        low_cpu_mem_usage: bool = True,
        device_map: DeviceMap = None,
        *,
        dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> Self:
        """Load a model from a folder (or Hub repo id) holding ``config.json`` and weights.

        Args:
            pretrained_model_name_or_path: a local folder or a Hub repo id.
            subfolder: the model's folder inside it (``"unet"`` in a pipeline checkpoint).
            dtype: floating dtype of the loaded weights (``torch_dtype`` is an alias). ``None``
                keeps the dtype the class builds (float32), as the reference does.
            variant: load ``diffusion_pytorch_model.<variant>.safetensors`` (or its shards).
            use_safetensors: ``False`` allows ``.bin`` pickles when no safetensors file exists
                (read with ``weights_only=True``); otherwise only safetensors files load.
            low_cpu_mem_usage: ``True`` builds on the meta device and assigns memory-mapped
                tensors (missing weights are an error); ``False`` builds normally, copies the
                weights in, and warns about missing ones.
            device_map: ``None``/``"cpu"``, or one device (``"cuda"``, ``torch.device``) the
                loaded model moves to. Splitting over devices is not supported.
            kwargs: Hub options (``revision``, ``cache_dir``, ``local_files_only``, ``token``,
                ...); anything else overrides a config field.
        """
        dtype = _resolve_dtype(torch_dtype, dtype)
        device = _resolve_device_map(device_map)
        options = hub.HubOptions.pop_from(kwargs)
        config = cls.load_config(
            pretrained_model_name_or_path, subfolder=subfolder, **_option_kwargs(options)
        )
        files = _weights_files.locate(
            pretrained_model_name_or_path,
            subfolder=subfolder,
            variant=variant,
            use_safetensors=use_safetensors,
            options=options,
        )
        building = _empty_init.parameters_on_meta() if low_cpu_mem_usage else nullcontext()
        with building:
            model = cls._from_loaded_config(config, **kwargs)
        model._load_weights(files, dtype=dtype, assign=low_cpu_mem_usage)
        if device is not None:
            model.to(device)
        return model.eval()

    def _load_weights(
        self, files: _weights_files.WeightsFiles, *, dtype: torch.dtype | None, assign: bool
    ) -> None:
        cls = type(self)
        _state_loading.cast_floating(self, dtype, cls.keep_in_fp32_modules)
        sources = _weights_files.open_files(files)
        missing, unexpected = _state_loading.load_files(
            self,
            ((source, _weights_files.keys_to_load(files, source)) for source in sources),
            all_keys=files.weight_map,
            renames=cls.legacy_key_renames,
            assign=assign,
        )
        where = str(files.index or files.paths[0])
        _state_loading.report(cls.__name__, where, missing, unexpected, missing_is_error=assign)
        left_on_meta = _empty_init.meta_tensor_names(self)
        if left_on_meta:
            raise RuntimeError(
                f"{cls.__name__}: {left_on_meta} are still on the meta device after loading "
                f"{where}; a buffer computed from a parameter in __init__ has no value when "
                "parameters are built on meta: compute it from plain tensors instead"
            )

    # --------------------------------------------------------------------------------- saving

    def save_pretrained(
        self,
        save_directory: str | os.PathLike[str],
        variant: str | None = None,
        safe_serialization: bool = True,
        max_shard_size: int | str = "10GB",
        push_to_hub: bool = False,
        **kwargs: Any,
    ) -> Path:
        """Write ``config.json`` and the weights into `save_directory`, atomically.

        Everything is written into a staging folder beside the target, which then replaces it
        in one rename: an error half-way leaves the previous checkpoint as it was. Weights files
        of the same variant left from an earlier save are removed; other files are kept. With
        ``push_to_hub=True`` the folder is then uploaded (`diffusekit.hub_upload`).
        """
        hub_upload.check_options(kwargs, f"{type(self).__name__}.save_pretrained")
        limit = _weights_files.parse_size(max_shard_size)
        fmt: _weights_files.Format = "safetensors" if safe_serialization else "bin"
        state = self.state_dict()
        owned = _weights_files.owned_patterns(variant)
        with _files.atomic_directory(save_directory, replaced=owned) as staging:
            self.save_config(staging)
            _weights_files.write(staging, state, fmt=fmt, variant=variant, max_shard_size=limit)
        if push_to_hub:
            message = "Upload model"
            hub_upload.push_saved_folder(save_directory, kwargs, kind="model", message=message)
        return Path(save_directory)

    # ----------------------------------------------------------------------------- properties

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the first floating parameter (or buffer); float32 if there is none."""
        for tensor in (*self.parameters(), *self.buffers()):
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.float32

    @property
    def device(self) -> torch.device:
        """The device of the first parameter (or buffer); CPU for a model with no tensors."""
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """Count parameters, optionally only those with ``requires_grad`` or not in nn.Embedding."""
        skipped: set[int] = set()
        if exclude_embeddings:
            for module in self.modules():
                if isinstance(module, nn.Embedding):
                    skipped.update(id(p) for p in module.parameters(recurse=False))
        return sum(
            p.numel()
            for p in self.parameters()
            if id(p) not in skipped and (p.requires_grad or not only_trainable)
        )


def _resolve_dtype(
    torch_dtype: torch.dtype | None, dtype: torch.dtype | None
) -> torch.dtype | None:
    if torch_dtype is not None and dtype is not None and torch_dtype != dtype:
        raise ValueError(
            f"from_pretrained: dtype={dtype} and torch_dtype={torch_dtype} disagree; "
            "pass only dtype (torch_dtype is its old name)"
        )
    chosen = dtype if dtype is not None else torch_dtype
    if chosen is not None and not (isinstance(chosen, torch.dtype) and chosen.is_floating_point):
        raise ValueError(
            f"from_pretrained: dtype should be a floating torch.dtype, found {chosen!r}"
        )
    return chosen


def _resolve_device_map(device_map: DeviceMap) -> torch.device | None:
    if isinstance(device_map, dict) and set(device_map) == {""}:
        device_map = device_map[""]
    if device_map is None:
        return None
    if isinstance(device_map, str) and device_map in _SPLITTING_DEVICE_MAPS:
        raise ValueError(
            f"from_pretrained: device_map={device_map!r} (splitting a model over devices) is not "
            "supported; pass one device such as 'cpu' or 'cuda', or load and call .to(...)"
        )
    if isinstance(device_map, dict):
        raise ValueError(
            "from_pretrained: a per-module device_map dict is not supported; pass one device "
            f"(found {sorted(device_map)[:5]})"
        )
    try:
        device = torch.device(device_map)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"from_pretrained: device_map={device_map!r} is not a device ({exc})"
        ) from None
    return None if device.type == "cpu" and device.index is None else device


def _option_kwargs(options: hub.HubOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in hub.HUB_OPTIONS}
