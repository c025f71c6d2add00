"""`diffusekit generate [CHECKPOINT]`: load any pipeline checkpoint, sample, write files.

Nothing heavy is imported until the command runs, so ``import diffusekit.cli`` stays cheap.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ._errors import command_errors

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Job:
    checkpoint: str | None
    scheduler: str | None
    seed: int | None
    dtype: str
    device: str | None
    output: Path | None
    progress: bool


@click.command("generate")
@click.argument("checkpoint", required=False)
@click.option("--prompt", help="Text prompt (pipelines that take one).")
@click.option("--negative-prompt", help="What to steer away from (pipelines that take one).")
@click.option("--steps", type=click.IntRange(min=1), help="Denoising steps.")
@click.option("--guidance", type=float, help="Classifier-free guidance scale.")
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=MAX_SEED),
    help="Seed of image 0; image i uses seed + i. Random (and printed) if not given.",
)
@click.option("--scheduler", help="Alias (euler, dpm++2m, ddim, ...) or scheduler class name.")
@click.option("--width", type=click.IntRange(min=1), help="Image width in pixels.")
@click.option("--height", type=click.IntRange(min=1), help="Image height in pixels.")
@click.option("--num-images", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--dtype", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp32", show_default=True
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "mps"]),
    help="Where to run [default: cuda, else mps, else cpu].",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file [default: diffusekit-output.png, or .wav for audio].",
)
@click.option("--no-progress", is_flag=True, help="Hide the loading and sampling bars.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def generate(
    checkpoint: str | None,
    prompt: str | None,
    negative_prompt: str | None,
    steps: int | None,
    guidance: float | None,
    seed: int | None,
    scheduler: str | None,
    width: int | None,
    height: int | None,
    num_images: int,
    dtype: str,
    device: str | None,
    output: Path | None,
    no_progress: bool,
    debug: bool,
) -> None:
    """Sample images (or audio) from CHECKPOINT, a folder or Hub repo id.

    The pipeline class comes from the checkpoint's model_index.json; only the options its
    __call__ takes are accepted. Without CHECKPOINT, the small digits model shipped with
    diffusekit-unconditional is used.
    """
    from ._call_options import Requested

    requested = Requested(prompt, negative_prompt, steps, guidance, height, width, num_images)
    job = Job(checkpoint, scheduler, seed, dtype, device, output, not no_progress)
    with command_errors(debug, handled=(RuntimeError,)):
        _run(job, requested)


def _run(job: Job, requested: Any) -> None:
    from . import _call_options, _loading, _schedulers
    from ._default_model import default_checkpoint

    if job.checkpoint is not None:
        _loading.check_source(job.checkpoint)
    source = job.checkpoint if job.checkpoint is not None else str(default_checkpoint())
    index = _loading.read_index(source)
    pipeline_cls = _loading.pipeline_class(index)
    _call_options.check(pipeline_cls, requested, seeded=job.seed is not None)
    if job.scheduler is not None:
        _schedulers.lookup(job.scheduler)
    pipeline = _loading.load(source, index, dtype=job.dtype, progress=job.progress)
    _loading.on_device(pipeline, job.device, job.progress)
    if job.scheduler is not None:
        _schedulers.swap(pipeline, job.scheduler)
    seed = job.seed if job.seed is not None else secrets.randbelow(2**31)
    click.echo(f"seed: {seed}")
    generators = _generators(seed, requested.num_images)
    result = pipeline(**_call_options.build(pipeline_cls, requested, generators))
    settings = {
        "checkpoint": source,
        "pipeline": pipeline_cls.__name__,
        "scheduler": type(getattr(pipeline, "scheduler", None)).__name__,
        **{k.lstrip("-").replace("-", "_"): v for k, v in requested.given().items()},
    }
    for path in _save(result, pipeline, job.output, seed, settings):
        click.echo(f"wrote {path}")


def _generators(seed: int, count: int) -> list[Any]:
    """One CPU generator per image, seeded seed, seed + 1, ...: each image is reproducible alone
    (and the same numbers come out on every device)."""
    import torch

    return [torch.Generator().manual_seed(seed + i) for i in range(count)]


def _save(
    result: Any, pipeline: Any, output: Path | None, seed: int, settings: dict[str, Any]
) -> list[Path]:
    from . import _outputs

    path = output or _outputs.IMAGE_DEFAULT
    audios = getattr(result, "audios", None)
    if audios is not None:
        return _outputs.save_audio(audios, path, _outputs.sample_rate_of(pipeline))
    images = getattr(result, "images", None)
    if images is None:
        raise ValueError(
            f"{type(pipeline).__name__} returned {type(result).__name__}, which has neither "
            f"`images` nor `audios`"
        )
    pil = _outputs.as_pil(images)
    per_image = [{**settings, "seed": seed + i} for i in range(len(pil))]
    return _outputs.save_images(pil, path, per_image)
