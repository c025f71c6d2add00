"""Hook specifications: the events a `diffusekit.plugins` entry point can react to.

Hooks fire at load or step granularity, never per layer. Implement them in a module named by
an entry point in the ``diffusekit.plugins`` group::

    from diffusekit.hooks import hookimpl

    @hookimpl
    def diffusekit_step_end(pipeline, step_index, timestep, latents):
        print(step_index, float(timestep))
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "diffusekit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class DiffusekitHookSpec:
    """The contract a hook module implements (any subset of these functions)."""

    @hookspec(firstresult=True)
    def diffusekit_resolve_component(self, library: str, class_name: str) -> type | None:
        """Return a class to serve `library.class_name`, or None to let resolution go on.

        Asked after programmatic registrations and before entry points; the first non-None
        answer wins.
        """

    @hookspec(firstresult=True)
    def diffusekit_load_options(
        self, library: str, component_class: type, options: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Return the keyword arguments to pass to `component_class.from_pretrained`, or None.

        `options` holds every loading option of the pipeline call under diffusekit's names
        (``dtype``, ``variant``, ``use_safetensors``, ``low_cpu_mem_usage``, ``device_map`` and
        the Hub options). A library plugin whose classes take other names or a subset (for
        example a foreign library's ``torch_dtype``) answers for its own library and returns
        None for the others. Without an answer the core passes the options the loader's
        signature names.
        """

    @hookspec(firstresult=True)
    def diffusekit_load_component(
        self, library: str, component_class: type, path: str, options: dict[str, Any]
    ) -> Any | None:
        """Load the `component_class` component from folder `path` yourself, or return None.

        Asked by `DiffusionPipeline.from_pretrained` for each component it loads, just before
        it would call ``component_class.from_pretrained``; None lets that call happen. `options`
        are the ones `diffusekit_load_options` gets (diffusekit's names, None values left out).
        A plugin that answers must give what ``from_pretrained`` would have given, so answer
        only for the classes and options you fully handle.
        """

    @hookspec
    def diffusekit_component_loaded(
        self,
        name: str,
        component: Any,
        library: str | None,
        class_name: str | None,
        path: str | None,
    ) -> None:
        """A pipeline component `name` was loaded from `path` (None when passed in by the user)."""

    @hookspec
    def diffusekit_pipeline_built(self, pipeline: Any) -> None:
        """A pipeline object was assembled from its components."""

    @hookspec
    def diffusekit_step_end(
        self, pipeline: Any, step_index: int, timestep: Any, latents: Any
    ) -> None:
        """A denoising step ended; `latents` are the loop's current latents (do not mutate)."""
