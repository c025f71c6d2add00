"""`diffusekit generate [CHECKPOINT]`: load any pipeline checkpoint, sample, write files.

Nothing heavy is imported until the command runs, so ``import diffusekit.cli`` stays cheap.
The work itself is in `_run`; this module reads the options.
"""

from __future__ import annotations

from pathlib import Path

import click

from ._errors import command_errors
from ._formats import format_option, progress_enabled
from ._threads import ThreadCount

MAX_SEED = 2**32 - 1
#: Options that, given with --from, replace the image's recorded values.
_REQUESTED = ("prompt", "negative_prompt", "steps", "guidance", "height", "width", "num_images")


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
    "--dtype",
    type=click.Choice(["fp32", "fp16", "bf16"]),
    help="Weights dtype [default: fp32, or the --from image's].",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "mps"]),
    help="Where to run [default: cuda, else mps, else cpu].",
)
@click.option(
    "--threads",
    type=ThreadCount(),
    help="torch intra-op threads for this run (torch.set_num_threads) [default: torch's].",
)
@click.option(
    "--compile/--no-compile",
    "compile_denoiser",
    default=None,
    help="Compile the denoiser (unet or transformer) with torch.compile; on CPU with "
    "inductor weight freezing. The first step includes compilation (minutes); its time is "
    "reported apart [default: off, or as the --from image records].",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file or name template with {index}, {seed}, {prompt_slug} "
    "[default: diffusekit-output.png, or .wav for audio]. Existing files are never replaced.",
)
@click.option(
    "--prompts-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One prompt per line, each may add options (--seed, --negative-prompt, ...).",
)
@click.option(
    "--from",
    "replay_from",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Reproduce an image written by generate (options given here replace its values).",
)
@click.option("--revision", help="Hub branch, tag or commit (same as CHECKPOINT@revision).")
@click.option("--variant", help="Weights variant to load (fp16, ...).")
@click.option("--subfolder", help="Folder inside CHECKPOINT that holds model_index.json.")
@click.option("--no-progress", is_flag=True, help="Hide the loading and sampling bars.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@format_option
@click.pass_context
def generate(
    ctx: click.Context,
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
    dtype: str | None,
    device: str | None,
    threads: int | None,
    compile_denoiser: bool | None,
    output: Path | None,
    prompts_file: Path | None,
    replay_from: Path | None,
    revision: str | None,
    variant: str | None,
    subfolder: str | None,
    no_progress: bool,
    debug: bool,
) -> None:
    """Sample images (or audio) from CHECKPOINT, a folder or Hub repo id (owner/name@revision).

    The pipeline class comes from the checkpoint's model_index.json; only the options its
    __call__ takes are accepted. Without CHECKPOINT, the small digits model shipped with
    diffusekit-unconditional is used (or, with --from, the checkpoint the image records).
    """
    from ._call_options import Requested
    from ._run import Job, run

    requested = Requested(prompt, negative_prompt, steps, guidance, height, width, num_images)
    given = frozenset(
        name
        for name in _REQUESTED
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    )
    job = Job(
        checkpoint,
        scheduler,
        seed,
        dtype,
        device,
        output,
        progress_enabled(no_progress),
        revision=revision,
        variant=variant,
        subfolder=subfolder,
        prompts_file=prompts_file,
        replay_from=replay_from,
        given=given,
        threads=threads,
        compile=compile_denoiser,
    )
    with command_errors(debug, handled=(RuntimeError,)):
        run(job, requested)
