"""What `diffusekit generate` does once its options are read: plan, check, load, sample, write.

Everything that can be wrong with the request (options the pipeline does not take, a bad
prompts-file line, an unknown scheduler, a bad name template, a plugin the image was made
with and that is missing) is found before any weights load. Each image is written with its
``parameters`` and ``diffusekit`` chunks (PNG), under a name that never replaces a file.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import _formats, _naming
from ._call_options import Requested
from ._prompts_file import Task
from ._sources import Source

if TYPE_CHECKING:
    from .._model_index import ModelIndex
    from ._replay import Replay

RANDOM_SEEDS = 2**31


@dataclass(frozen=True)
class Job:
    checkpoint: str | None
    scheduler: str | None
    seed: int | None
    dtype: str | None
    device: str | None
    output: Path | None
    progress: bool
    revision: str | None = None
    variant: str | None = None
    subfolder: str | None = None
    prompts_file: Path | None = None
    replay_from: Path | None = None
    #: Requested fields given on the command line (they replace a --from image's values).
    given: frozenset[str] = frozenset()
    #: torch intra-op threads for the run (None: torch's own setting).
    threads: int | None = None
    #: --compile / --no-compile (None: as the --from image records, else off).
    compile: bool | None = None


@dataclass
class Plan:
    source: Source
    tasks: list[Task]
    replay: Replay | None = None
    #: With an unchanged --from: the recorded batch's seeds and the one image to keep.
    seeds: list[int] | None = None
    keep: int | None = None


@dataclass
class Writer:
    """Names and writes the files of one run, counting images across all its calls."""

    output: Path
    total: int
    grid: bool
    base: dict[str, Any]
    defaults: dict[str, Any]
    index: int = 0
    written: list[Path] = field(default_factory=list)


def run(job: Job, requested: Requested) -> None:
    from . import _loading, _sources
    from ._threads import torch_threads

    plan = _plan(job, requested)
    plan.source = _sources.pin(plan.source)
    index = _sources.read_index(plan.source)
    pipeline_cls = _loading.pipeline_class(index)
    output = job.output or _default_output()
    _check_before_loading(job, plan, pipeline_cls, output)
    with torch_threads(job.threads):
        _load_and_generate(job, plan, index, pipeline_cls, output)


def _load_and_generate(
    job: Job, plan: Plan, index: ModelIndex, pipeline_cls: type, output: Path
) -> None:
    from . import _load_progress, _loading, _schedulers, _sources

    dtype = job.dtype or (plan.replay.dtype if plan.replay is not None else "fp32")
    target = _sources.loadable(plan.source, index)
    root = target if isinstance(target, Path) else _sources.local_folder(plan.source, index)
    pipeline = _loading.load(
        target,
        index,
        dtype=dtype,
        progress=job.progress,
        sizes=_load_progress.component_bytes(root, index, pipeline_cls, plan.source.variant),
        options=_sources.load_options(plan.source),
    )
    device = _device(job, plan)
    _loading.on_device(pipeline, device, job.progress)
    if job.scheduler is not None:
        _schedulers.swap(pipeline, job.scheduler)
    elif plan.replay is not None:
        _set_recorded_scheduler(pipeline, plan.replay)
    compiled = _compile(job, plan, pipeline, device)
    writer = _writer(plan, pipeline, pipeline_cls, output, dtype, device, compiled is not None)
    for task in plan.tasks:
        _generate_one(pipeline, pipeline_cls, task, plan, writer)
    if compiled is not None and (line := compiled.summary()) is not None:
        _note(line)


def _compile(job: Job, plan: Plan, pipeline: Any, device: str) -> Any:
    """--compile, or a --from image made with it: the compiled denoiser's call timer."""
    from . import _compiling

    wanted = job.compile
    if wanted is None:
        wanted = plan.replay is not None and plan.replay.compiled
    return _compiling.compile_denoiser(pipeline, device) if wanted else None


def _check_before_loading(job: Job, plan: Plan, pipeline_cls: type, output: Path) -> None:
    """Every usage error and missing plugin, found before any weights load."""
    from . import _replay, _schedulers

    for task in plan.tasks:
        _check_task(pipeline_cls, task, job)
    if job.scheduler is not None:
        _schedulers.lookup(job.scheduler)
    _naming.check_template(output)
    if plan.replay is not None:
        for note in _replay.check_installed(plan.replay):
            _note(note)


def _note(text: str) -> None:
    """A remark for people (stderr, human mode only): never part of a script's output."""
    if _formats.current() == "human":
        click.echo(text, err=True)


def _device(job: Job, plan: Plan) -> str:
    """--device; else a --from image's device when this machine has it; else the best one."""
    from . import _loading

    wanted = job.device or (plan.replay.device if plan.replay is not None else None)
    if wanted is None:
        return _loading.best_device()
    if job.device is not None or plan.replay is None:
        return wanted
    try:
        _loading._check_available(wanted)
    except ValueError:
        fallback = _loading.best_device()
        _note(
            f"note: {plan.replay.image} was made on {wanted}, which this machine lacks; "
            f"using {fallback} (the pixels may differ)"
        )
        return fallback
    return wanted


def _default_output() -> Path:
    from ._outputs import IMAGE_DEFAULT

    return IMAGE_DEFAULT


def _plan(job: Job, requested: Requested) -> Plan:
    from . import _loading, _prompts_file, _replay, _sources
    from ._default_model import default_checkpoint

    if job.checkpoint is not None:
        _loading.check_source(_sources.without_revision(job.checkpoint))
    if job.replay_from is not None:
        if job.prompts_file is not None:
            from ._errors import OptionError

            raise OptionError("--from and --prompts-file cannot be combined")
        replay = _replay.read(job.replay_from)
        overrides = {name: getattr(requested, name) for name in job.given}
        replay = _replay.with_overrides(replay, overrides)
        source = replay.source
        if job.checkpoint is not None:
            source = _parse(job, job.checkpoint)
        unchanged = job.seed is None and "num_images" not in job.given
        seed = job.seed if job.seed is not None else replay.seeds[0]
        plan = Plan(source, [Task(replay.requested, seed)], replay)
        if unchanged:
            plan.seeds, plan.keep = replay.seeds, replay.index
        return plan
    checkpoint = job.checkpoint if job.checkpoint is not None else str(default_checkpoint())
    source = _parse(job, checkpoint)
    if job.prompts_file is not None:
        return Plan(source, _prompts_file.read(job.prompts_file, requested, job.seed))
    return Plan(source, [Task(requested, job.seed)])


def _parse(job: Job, checkpoint: str) -> Source:
    from . import _sources

    return _sources.parse(
        checkpoint, revision=job.revision, subfolder=job.subfolder, variant=job.variant
    )


def _check_task(pipeline_cls: type, task: Task, job: Job) -> None:
    from . import _call_options
    from ._errors import OptionError

    try:
        _call_options.check(pipeline_cls, task.requested, seeded=task.seed is not None)
    except OptionError as exc:
        if task.line is None:
            raise
        raise OptionError(f"{job.prompts_file}:{task.line}: {exc}") from None


def _set_recorded_scheduler(pipeline: Any, replay: Replay) -> None:
    from . import _replay

    scheduler = _replay.scheduler_for(replay)
    if scheduler is not None:
        pipeline.register_modules(scheduler=scheduler)


def _writer(
    plan: Plan,
    pipeline: Any,
    pipeline_cls: type,
    output: Path,
    dtype: str,
    device: str,
    compiled: bool,
) -> Writer:
    from . import _provenance

    total = 1 if plan.keep is not None else sum(t.requested.num_images for t in plan.tasks)
    grid = len(plan.tasks) == 1 and total > 1 and not _naming.is_template(output)
    return Writer(
        output,
        total,
        grid,
        _provenance.base_record(plan.source, pipeline, dtype, device, compiled),
        _provenance.call_defaults(pipeline_cls),
    )


def _generate_one(
    pipeline: Any, pipeline_cls: type, task: Task, plan: Plan, writer: Writer
) -> None:
    import torch

    from . import _call_options

    seed = task.seed if task.seed is not None else secrets.randbelow(RANDOM_SEEDS)
    seeds = plan.seeds or [seed + i for i in range(task.requested.num_images)]
    shown = seed if plan.keep is None else seeds[plan.keep]
    where = "" if task.line is None else f" (line {task.line})"
    _formats.emit({"event": "seed", "seed": shown, "line": task.line}, f"seed: {shown}{where}")
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    kwargs = _call_options.build(pipeline_cls, task.requested, generators)
    result = pipeline(**kwargs)
    call = {k: v for k, v in kwargs.items() if k != "generator"}
    given = {k.lstrip("-").replace("-", "_"): v for k, v in task.requested.given().items()}
    audios = getattr(result, "audios", None)
    if audios is not None:
        _write_audio(audios, pipeline, task, seeds, writer)
        return
    images = getattr(result, "images", None)
    if images is None:
        raise ValueError(
            f"{type(pipeline).__name__} returned {type(result).__name__}, which has neither "
            f"`images` nor `audios`"
        )
    _write_images(images, task, seeds, plan.keep, given, call, writer)


def _target(writer: Writer, seed: int, task: Task, suffix: str | None = None) -> Path:
    output = writer.output if suffix is None else writer.output.with_suffix(suffix)
    wanted = _naming.name(
        output, index=writer.index, seed=seed, prompt=task.requested.prompt, count=writer.total
    )
    writer.index += 1
    return _naming.reserve(wanted)


def _wrote(kind: str, path: Path, **details: Any) -> None:
    _formats.emit({"event": kind, "path": str(path), **details}, f"wrote {path}", str(path))


def _write_images(
    images: Any,
    task: Task,
    seeds: list[int],
    keep: int | None,
    given: dict[str, Any],
    call: dict[str, Any],
    writer: Writer,
) -> None:
    from . import _outputs, _provenance
    from ._png_metadata import png_info

    pil = _outputs.as_pil(images)
    for i, image in enumerate(pil):
        if keep is not None and i != keep:
            continue
        record = _provenance.image_record(writer.base, given, call, seeds, i)
        summary = _provenance.summary(record, image.size, writer.defaults)
        target = _target(writer, seeds[i], task)
        is_png = target.suffix.lower() == ".png"
        try:
            image.save(target, pnginfo=png_info(summary, record) if is_png else None)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        writer.written.append(target)
        _wrote("image", target, seed=seeds[i], prompt=task.requested.prompt, line=task.line)
    if writer.grid:
        _write_grid(pil, writer)


def _write_grid(images: list[Any], writer: Writer) -> None:
    import PIL.Image

    from ..image import make_image_grid
    from ._outputs import grid_path, grid_shape

    rows, cols = grid_shape(len(images))
    blank = PIL.Image.new("RGB", images[0].size)
    cells = [*images, *[blank] * (rows * cols - len(images))]
    target = _naming.reserve(grid_path(writer.output))
    make_image_grid(cells, rows=rows, cols=cols).save(target)
    _wrote("grid", target)


def _write_audio(audios: Any, pipeline: Any, task: Task, seeds: list[int], writer: Writer) -> None:
    from ..image import export_to_wav
    from ._outputs import AUDIO_SUFFIX, sample_rate_of

    rate = sample_rate_of(pipeline)
    for i, audio in enumerate(audios):
        target = _target(writer, seeds[i], task, AUDIO_SUFFIX)
        export_to_wav(audio, target, rate)
        _wrote("audio", target, seed=seeds[i], prompt=task.requested.prompt, line=task.line)
