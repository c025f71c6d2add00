"""A tiny Stable Diffusion pipeline's whole call: overhead-dominated, end to end.

The tiny checkpoint (diffusekit's test-kit configs, random weights) and a micro one (the same
layout with an eighth of the channels, where the libraries' own work outweighs the kernels)
are written once by the reference under bench/.cache/. Each library loads it in its own
fresh process, makes one warm-up call, then `--calls` timed calls of a 64x64 image, 4 DDIM
steps, classifier-free guidance, the same prompt and seed; the processes alternate
`--repeat` times. Both libraries' images are compared, so a speed-up that changed the
numbers would show.

    python bench/bench_pipeline.py --repeat 3 --calls 20
"""

from __future__ import annotations

import warnings
from typing import Any

import _checkpoints
import _harness as h

CALL = {"prompt": "hello", "height": 64, "width": 64, "num_inference_steps": 4}


def call_worker(library: str, folder: str, calls: int, threads: int) -> dict[str, Any]:
    import torch

    warnings.simplefilter("ignore")
    torch.set_num_threads(threads)
    if library == "diffusekit":
        from diffusekit import StableDiffusionPipeline
    else:
        from diffusers import StableDiffusionPipeline
    pipe = StableDiffusionPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)

    def run() -> Any:
        generator = torch.Generator().manual_seed(0)
        return pipe(**CALL, generator=generator, output_type="np").images

    image = run()
    times = [h.timed(run)[0] for _ in range(calls)]
    return {"call_s": times, "image": image.ravel()[:: max(1, image.size // 512)].tolist()}


#: Figure key, checkpoint and title words of each pipeline size.
SIZES = {
    "tiny": ("pipeline.tiny_call", "tiny-sd", "tiny SD pipeline call"),
    "micro": ("pipeline.micro_call", "micro-sd", "micro SD pipeline call (1/8 channels)"),
}


def main(args: Any) -> list[dict[str, Any]]:
    return [_size_figure(size, args) for size in args.sizes]


def _size_figure(size: str, args: Any) -> dict[str, Any]:
    key, checkpoint, words = SIZES[size]
    folder = _checkpoints.ensure(checkpoint)
    options = {"folder": str(folder), "calls": args.calls, "threads": args.threads}
    with h.LoadWindow() as load:
        runs = h.interleaved(__file__, "call", args.repeat, **options)
    ours, theirs = runs["diffusekit"][0]["image"], runs["reference"][0]["image"]
    difference = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
    if difference > 1e-3:
        raise SystemExit(f"{size} pipeline outputs differ by {difference}: not the same work")
    samples = {lib: [t for r in runs[lib] for t in r["call_s"]] for lib in h.LIBRARIES}
    title = f"{words} ({CALL['height']}x{CALL['width']}, 4 steps, CFG)"
    return h.figure(
        key, title, "s", samples["diffusekit"], samples["reference"], target=0.7,
        load=load.pair, threads=args.threads, max_image_difference=difference,
    )  # fmt: skip


if __name__ == "__main__":
    parser = h.parser(__doc__.splitlines()[0], repeat=3)
    parser.add_argument("--calls", type=int, default=20, help="timed calls per process")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    h.run_script(__file__, {"call": call_worker}, main, parser)
