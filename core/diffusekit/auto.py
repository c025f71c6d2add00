"""AutoPipeline: pick the pipeline class for a task from a checkpoint or another pipeline.

Plugins declare which class serves which task of a model family in the ``diffusekit.tasks``
entry-point group: name ``<family>.<task>``, value ``module:Class``::

    [project.entry-points."diffusekit.tasks"]
    "stable-diffusion.text2image" = "diffusekit_stable_diffusion:StableDiffusionPipeline"
    "stable-diffusion.image2image" = "diffusekit_stable_diffusion:StableDiffusionImg2ImgPipeline"

A checkpoint's ``_class_name`` (or a pipeline's class) is matched against those values as
text, so finding the family reads metadata only and choosing a class imports just its module.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from . import hub, registry
from ._model_index import MODEL_INDEX, read_model_index

TEXT2IMAGE = "text2image"
IMAGE2IMAGE = "image2image"
INPAINTING = "inpainting"


def _task_entries() -> list[registry.EntryPoint]:
    found = registry.discovery()
    return [
        entry
        for claims in found.entries.get(registry.TASKS, {}).values()
        for entry in claims
        if not found.is_blocked(entry.dist)
    ]


def families_of(class_name: str, module: str | None = None) -> list[str]:
    """Families whose task entries name a class called `class_name` (in `module` if given)."""
    families = []
    for entry in _task_entries():
        if entry.attr.rpartition(".")[2] != class_name:
            continue
        if module is not None and not (
            module == entry.module or module.startswith(entry.module + ".")
        ):
            continue
        family = entry.name.rpartition(".")[0]
        if family not in families:
            families.append(family)
    return families


def pipeline_class_for(family: str, task: str) -> type | None:
    """The class serving `task` in `family`, importing only its module; None if none does."""
    entry = registry.select(registry.TASKS, f"{family}.{task}")
    return None if entry is None else registry.load_entry(entry)


def tasks() -> dict[str, list[str]]:
    """Every declared family with the tasks it serves (metadata only)."""
    table: dict[str, list[str]] = {}
    for entry in _task_entries():
        family, _, task = entry.name.rpartition(".")
        table.setdefault(family, [])
        if task not in table[family]:
            table[family].append(task)
    return table


def _choose(class_name: str, task: str, module: str | None = None) -> Any:
    for family in families_of(class_name, module):
        chosen = pipeline_class_for(family, task)
        if chosen is not None:
            return chosen
    served = ", ".join(f"{f}: {', '.join(t)}" for f, t in tasks().items()) or "none installed"
    raise ValueError(
        f"AutoPipeline: no installed plugin serves task '{task}' for {class_name} "
        f"(families and tasks declared: {served})"
    )


class _AutoPipeline:
    """Not instantiable: use `from_pretrained` or `from_pipe`."""

    task: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            f"{type(self).__name__} is not instantiated directly; use "
            f"{type(self).__name__}.from_pretrained(...) or .from_pipe(pipeline)"
        )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], **kwargs: Any):
        """Load the checkpoint with the class its family uses for this task."""
        options = hub.HubOptions.pop_from(dict(kwargs))
        index = read_model_index(
            hub.fetch_file(pretrained_model_name_or_path, MODEL_INDEX, options=options)
        )
        target = _choose(index.class_name, cls.task)
        return target.from_pretrained(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def from_pipe(cls, pipeline: Any, **kwargs: Any):
        """The task's pipeline sharing `pipeline`'s components (and its recorded options)."""
        source = type(pipeline)
        target = _choose(source.__name__, cls.task, source.__module__)
        return target.from_pipe(pipeline, **kwargs)


class AutoPipelineForText2Image(_AutoPipeline):
    task = TEXT2IMAGE


class AutoPipelineForImage2Image(_AutoPipeline):
    task = IMAGE2IMAGE


class AutoPipelineForInpainting(_AutoPipeline):
    task = INPAINTING
