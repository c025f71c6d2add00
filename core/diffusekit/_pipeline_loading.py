"""`DiffusionPipeline.from_pretrained` and `from_pipe`: checkpoint -> components -> pipeline."""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _hook_manager, _remote_code, hub, registry
from ._load_options import dtype_for, options_for
from ._model_index import MODEL_INDEX, ComponentSpec, ModelIndex, read_model_index
from ._snapshot_files import folder_variant, has_weights, select_files
from .errors import CheckpointError, DiffusekitWarning

if TYPE_CHECKING:
    from .pipeline import DiffusionPipeline

_PIPELINE_OPTIONS = ("variant", "use_safetensors", "low_cpu_mem_usage", "device_map")
_SPLITTING_DEVICE_MAPS = ("auto", "balanced_low_0", "sequential")
_IGNORED_OPTIONS = ("proxies", "resume_download", "output_loading_info", "mirror", "provider")


@dataclass
class _Request:
    """Everything `from_pretrained` was asked for, sorted by who consumes it."""

    hub: hub.HubOptions
    dtype: Any
    options: dict[str, Any]
    trust_remote_code: bool
    custom_pipeline: str | os.PathLike[str] | None
    custom_class_name: str | None
    balanced: bool
    rest: dict[str, Any]

    @classmethod
    def parse(cls, kwargs: dict[str, Any]) -> _Request:
        rest = dict(kwargs)
        hub_options = hub.HubOptions.pop_from(rest)
        dtype = _pop_dtype(rest)
        options = {name: rest.pop(name) for name in _PIPELINE_OPTIONS if name in rest}
        for name in _IGNORED_OPTIONS:
            rest.pop(name, None)
        _check_device_map(options.get("device_map"))
        balanced = options.get("device_map") == "balanced"
        if balanced:
            del options["device_map"]
        return cls(
            hub=hub_options,
            dtype=dtype,
            options=options,
            trust_remote_code=bool(rest.pop("trust_remote_code", False)),
            custom_pipeline=rest.pop("custom_pipeline", None),
            custom_class_name=rest.pop("custom_class_name", None),
            balanced=balanced,
            rest=rest,
        )


def _check_device_map(device_map: Any) -> None:
    """Pipelines place whole models: ``"balanced"`` over GPUs, or everything on one device."""
    splitting = isinstance(device_map, str) and device_map in _SPLITTING_DEVICE_MAPS
    if splitting or isinstance(device_map, Mapping):
        raise ValueError(
            f"from_pretrained: device_map={device_map!r} is not supported for a pipeline; "
            "expected 'balanced' (whole models spread over the GPUs) or one device such as "
            "'cuda' or 'cpu'"
        )


def _check_dtype_keys(dtype: Any, index: ModelIndex, pipeline_cls: type) -> None:
    if not isinstance(dtype, Mapping):
        return
    known = {"default", *index.components, *init_parameters(pipeline_cls)}
    unknown = sorted(str(key) for key in dtype if key not in known)
    if unknown:
        raise ValueError(
            f"from_pretrained: dtype names {unknown}, which are not components of "
            f"{pipeline_cls.__name__} ({', '.join(sorted(index.components))}) nor 'default'"
        )


def _pop_dtype(kwargs: dict[str, Any]) -> Any:
    dtype = kwargs.pop("dtype", None)
    torch_dtype = kwargs.pop("torch_dtype", None)
    if dtype is not None and torch_dtype is not None and dtype != torch_dtype:
        raise TypeError(f"pass one of dtype= and torch_dtype=, found {dtype} and {torch_dtype}")
    return dtype if dtype is not None else torch_dtype


# ----------------------------------------------------------------------- the pipeline class


def init_parameters(cls: type) -> dict[str, inspect.Parameter]:
    parameters = inspect.signature(cls).parameters
    return {
        name: p for name, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def expected_components(cls: type[DiffusionPipeline]) -> tuple[list[str], list[str]]:
    """Required components (no default) and optional ones (declared optional or defaulting)."""
    declared_optional = set(cls._optional_components)
    required, optional = [], []
    for name, parameter in init_parameters(cls).items():
        if name in declared_optional:
            optional.append(name)
        elif parameter.default is inspect.Parameter.empty:
            required.append(name)
    return required, optional


def _pipeline_class(
    cls: type[DiffusionPipeline], index: ModelIndex, root: Path, request: _Request
) -> type[DiffusionPipeline]:
    from .pipeline import DiffusionPipeline

    if request.custom_pipeline is not None:
        chosen = _custom_pipeline_class(request)
    elif cls is not DiffusionPipeline:
        return cls
    elif index.remote_module is not None:
        chosen = _remote_code.load_class(
            _remote_code.module_path(root, index.remote_module),
            index.class_name,
            trusted=request.trust_remote_code,
            why=f"{index.path} (_class_name [{index.remote_module!r}, {index.class_name!r}])",
        )
    else:
        chosen = registry.resolve("diffusers", index.class_name, requested_by=f"{index.path}")
    if not (isinstance(chosen, type) and issubclass(chosen, DiffusionPipeline)):
        raise CheckpointError(
            f"{index.path}: pipeline class {index.class_name} resolved to {chosen!r}, "
            f"which is not a DiffusionPipeline subclass"
        )
    return chosen


def _custom_pipeline_class(request: _Request) -> type:
    source = Path(os.fspath(request.custom_pipeline))  # type: ignore[arg-type]
    path = source / "pipeline.py" if source.is_dir() else source
    if not path.is_file() or path.suffix != ".py":
        raise CheckpointError(
            f"custom_pipeline={request.custom_pipeline!r}: expected a local folder holding "
            f"pipeline.py or a .py file; fetching community pipelines by name is not supported"
        )
    return _remote_code.load_class(
        path,
        request.custom_class_name,
        trusted=request.trust_remote_code,
        why=f"custom_pipeline={request.custom_pipeline!r}",
    )


# --------------------------------------------------------------------------- the checkpoint


@dataclass
class _Checkpoint:
    """Where a checkpoint's files are: a local folder, or a Hub repo's snapshot in the cache."""

    root: Path
    index: ModelIndex
    listing: hub.RepoListing | None = None


def _open_checkpoint(source: str | os.PathLike[str], request: _Request) -> _Checkpoint:
    """The parsed index; for a repo id, one listing and the download of the index (and of
    the pipeline's code file when the user trusts checkpoint code)."""
    if hub.is_local(source):
        root = Path(source)
        return _Checkpoint(root, read_model_index(hub.fetch_file(root, MODEL_INDEX)))
    listing = hub.list_repo(str(source), request.hub)
    if MODEL_INDEX not in listing.files:
        raise CheckpointError(f"{source}: the repository has no {MODEL_INDEX}")
    root = hub.download(listing, [MODEL_INDEX], request.hub)
    index = read_model_index(root / MODEL_INDEX)
    code = [name for name in _top_level_code(index, request) if name in listing.files]
    return _Checkpoint(hub.download(listing, code, request.hub), index, listing)


def _fetch_components(
    checkpoint: _Checkpoint, pipeline_cls: type, request: _Request, passed: set[str]
) -> Path:
    """For a repo, download the files of the component folders the pipeline class takes and
    the user did not pass in: one weights set per folder (see `select_files`)."""
    if checkpoint.listing is None:
        return checkpoint.root
    parameters = init_parameters(pipeline_cls)
    folders = [
        name
        for name, spec in checkpoint.index.components.items()
        if not spec.is_empty and name in parameters and name not in passed
    ]
    files = select_files(
        checkpoint.listing.files,
        folders,
        variant=request.options.get("variant"),
        use_safetensors=request.options.get("use_safetensors"),
        top_level=_top_level_code(checkpoint.index, request),
    )
    return hub.download(checkpoint.listing, files, request.hub)


def _top_level_code(index: ModelIndex, request: _Request) -> list[str]:
    names = [MODEL_INDEX]
    if index.remote_module is not None and request.trust_remote_code:
        module = index.remote_module
        names.append(module if module.endswith(".py") else f"{module}.py")
    return names


# --------------------------------------------------------------------------- the components


def _component_class(name: str, spec: ComponentSpec, folder: Path, index: ModelIndex, trust: bool):
    assert spec.library is not None and spec.class_name is not None
    code_file = folder / f"{spec.library}.py"
    if code_file.is_file():
        return _remote_code.load_class(
            code_file,
            spec.class_name,
            trusted=trust,
            why=f"{index.where(name)} ([{spec.library!r}, {spec.class_name!r}])",
        )
    return registry.resolve(spec.library, spec.class_name, requested_by=index.where(name))


def _load_component(
    name: str,
    spec: ComponentSpec,
    root: Path,
    index: ModelIndex,
    request: _Request,
    variant: str | None,
) -> Any:
    folder = root / name
    if not folder.is_dir():
        raise CheckpointError(
            f"{index.where(name)} is [{spec.library!r}, {spec.class_name!r}] but the folder "
            f"{folder} does not exist"
        )
    cls = _component_class(name, spec, folder, index, request.trust_remote_code)
    loader = getattr(cls, "from_pretrained", None)
    if not callable(loader):
        raise CheckpointError(
            f"{index.where(name)}: class {cls.__module__}.{cls.__qualname__} has no "
            f"from_pretrained, so it cannot be loaded from a checkpoint folder"
        )
    options = {**request.options, "variant": variant, "dtype": dtype_for(name, request.dtype)}
    given = {key: value for key, value in options.items() if value is not None}
    component = _hook_manager.load_component(spec.library or "", cls, str(folder), given)
    if component is None:
        component = loader(str(folder), **options_for(spec.library or "", cls, given))
    _hook_manager.notify(
        "diffusekit_component_loaded",
        name=name,
        component=component,
        library=spec.library,
        class_name=spec.class_name,
        path=str(folder),
    )
    return component


def _gather_components(
    pipeline_cls: type[DiffusionPipeline], index: ModelIndex, root: Path, request: _Request
) -> dict[str, Any]:
    parameters = init_parameters(pipeline_cls)
    required, optional = expected_components(pipeline_cls)
    components: dict[str, Any] = {}
    for name in parameters:
        is_component = name in index.components or name in required or name in optional
        if is_component and name in request.rest:
            components[name] = request.rest.pop(name)
            _notify_passed(name, components[name])
    to_load = {
        name: spec
        for name, spec in index.components.items()
        if name in parameters and name not in components
    }
    variants = _variants(to_load, root, index, request)
    for name, spec in to_load.items():
        components[name] = (
            None
            if spec.is_empty
            else _load_component(name, spec, root, index, request, variants.get(name))
        )
    plain = set(index.values) | set(request.rest)
    _check_components(pipeline_cls, index, components, required, optional, plain)
    return components


def _variants(
    to_load: dict[str, ComponentSpec], root: Path, index: ModelIndex, request: _Request
) -> dict[str, str | None]:
    """The variant each component folder loads: the one asked for where the folder has it.

    Folders without weights of that variant load their plain files, as the reference does;
    asking for a variant that no folder holds is an error.
    """
    variant = request.options.get("variant")
    if variant is None:
        return {}
    use_safetensors = request.options.get("use_safetensors")
    chosen: dict[str, str | None] = {}
    weighted: list[str] = []
    for name, spec in to_load.items():
        folder = root / name
        if spec.is_empty or not folder.is_dir():
            continue
        files = [p.name for p in folder.iterdir() if p.is_file()]
        if has_weights(files):
            weighted.append(name)
        chosen[name] = folder_variant(files, variant, use_safetensors)
    if weighted and all(chosen[name] is None for name in weighted):
        raise CheckpointError(
            f"{index.path}: variant={variant!r} was asked for, but no component folder holds "
            f"weights of that variant (folders with weights: {', '.join(weighted)})"
        )
    return chosen


def _notify_passed(name: str, component: Any) -> None:
    if component is not None:
        _hook_manager.notify(
            "diffusekit_component_loaded",
            name=name,
            component=component,
            library=None,
            class_name=None,
            path=None,
        )


def _check_components(
    pipeline_cls: type,
    index: ModelIndex,
    components: dict[str, Any],
    required: list[str],
    optional: list[str],
    plain: set[str],
) -> None:
    missing = [name for name in required if components.get(name) is None and name not in plain]
    if missing:
        found = ", ".join(f"{n}={type(c).__name__}" for n, c in components.items()) or "nothing"
        raise CheckpointError(
            f"{index.path}: {pipeline_cls.__name__} needs components {required} "
            f"(optional: {optional}); missing {missing}; found {found}. Pass the missing ones "
            f"as keyword arguments or fix model_index.json"
        )


def _plain_values(pipeline_cls: type, index: ModelIndex, request: _Request) -> dict[str, Any]:
    parameters = init_parameters(pipeline_cls)
    values = {key: value for key, value in index.values.items() if key in parameters}
    for key in list(request.rest):
        if key in parameters:
            values[key] = request.rest.pop(key)
    if request.rest:
        warnings.warn(
            f"{pipeline_cls.__name__}.from_pretrained: ignoring arguments it does not take: "
            f"{sorted(request.rest)}",
            DiffusekitWarning,
            stacklevel=4,
        )
    return values


def load_pipeline(
    cls: type[DiffusionPipeline], source: str | os.PathLike[str], kwargs: dict[str, Any]
) -> Any:
    request = _Request.parse(kwargs)
    passed = set(request.rest)
    checkpoint = _open_checkpoint(source, request)
    index = checkpoint.index
    pipeline_cls = _pipeline_class(cls, index, checkpoint.root, request)
    _check_dtype_keys(request.dtype, index, pipeline_cls)
    root = _fetch_components(checkpoint, pipeline_cls, request, passed)
    components = _gather_components(pipeline_cls, index, root, request)
    values = _plain_values(pipeline_cls, index, request)
    pipeline = pipeline_cls(**components, **values)
    pipeline._name_or_path = os.fspath(source)
    if request.balanced:
        from ._placement import balance

        balance(pipeline)
    _hook_manager.notify("diffusekit_pipeline_built", pipeline=pipeline)
    return pipeline


# ------------------------------------------------------------------------------- from_pipe


def pipeline_from_pipe(
    cls: type[DiffusionPipeline], original: DiffusionPipeline, kwargs: dict[str, Any]
) -> Any:
    from .pipeline import DiffusionPipeline

    target = type(original) if cls is DiffusionPipeline else cls
    rest = dict(kwargs)
    dtype = _pop_dtype(rest)
    required, optional = expected_components(target)
    init: dict[str, Any] = {}
    for name in init_parameters(target):
        if name in rest:
            init[name] = rest.pop(name)
        elif name in original.components:
            init[name] = original.components[name]
        elif name in original._config_values:
            init[name] = original._config_values[name]
        elif name in optional:
            init[name] = None
    if rest:
        raise TypeError(f"{target.__name__}.from_pipe: unexpected arguments {sorted(rest)}")
    missing = [name for name in required if init.get(name) is None]
    if missing:
        raise ValueError(
            f"{target.__name__}.from_pipe: {type(original).__name__} has no component(s) "
            f"{missing}; pass them as keyword arguments"
        )
    pipeline = target(**init)
    pipeline._name_or_path = original._name_or_path
    pipeline._progress_bar_config = dict(original._progress_bar_config)
    if dtype is not None:
        pipeline.to(dtype)
    return pipeline
