"""Model compute: one guided SD 1.5 UNet step and one SD VAE decode, against the reference.

The SD 1.5 UNet (860M parameters) at 32x32 and 64x64 latents, batch 2 (one step with
classifier-free guidance), 77 context tokens; the SD VAE decoder on a 32x32 latent (a 256x256
image). Weights come from the SD 1.5-architecture checkpoint the reference writes under
bench/.cache/sd15. Each worker is a fresh process: load, one warm-up call, then `--calls`
timed calls; `--repeat` workers per library, alternating. FLOPs are counted once with
torch's FlopCounterMode; the machine's fp32 matmul peak is the best 4096^3 matmul, measured
before and after (oneDNN convolutions can exceed it). `--variants compile` adds a diffusekit
run with `torch.compile(unet)`, its compile time (the first call) reported separately;
`compile_frozen` is the same with inductor's weight freezing, which pre-packs convolution
weights once; `channels_last` runs in channels-last memory format.

    python bench/bench_unet.py --repeat 2 --calls 2
"""

from __future__ import annotations

import warnings
from typing import Any

import _checkpoints
import _harness as h

TASKS = {"unet-32": ("unet", 32), "unet-64": ("unet", 64), "vae-decode-256": ("vae", 32)}
TITLES = {
    "unet-32": "SD 1.5 UNet step, 32x32 latents, CFG (batch 2)",
    "unet-64": "SD 1.5 UNet step, 64x64 latents, CFG (batch 2)",
    "vae-decode-256": "SD VAE decode, 256x256 image",
}
TARGETS = {"unet-32": 1.0, "unet-64": 1.0}
VARIANTS = ("eager", "channels_last", "compile", "compile_frozen")


def _model(library: str, kind: str, folder: str) -> Any:
    name = "UNet2DConditionModel" if kind == "unet" else "AutoencoderKL"
    if library == "diffusekit":
        import diffusekit_models as package
    else:
        import diffusers as package
    return getattr(package, name).from_pretrained(folder, subfolder=kind).eval()


def _call(kind: str, model: Any, size: int, variant: str) -> Any:
    import torch

    generator = torch.Generator().manual_seed(0)
    layout = torch.channels_last if variant == "channels_last" else torch.contiguous_format
    if kind == "unet":
        sample = torch.randn(2, 4, size, size, generator=generator)
        sample = sample.contiguous(memory_format=layout)
        context = torch.randn(2, 77, 768, generator=generator)
        timestep = torch.tensor([500, 500])
        return lambda: model(sample, timestep, context).sample
    latents = torch.randn(1, 4, size, size, generator=generator).contiguous(memory_format=layout)
    return lambda: model.decode(latents).sample


def step_worker(
    library: str, task: str, folder: str, calls: int, variant: str, count_flops: bool
) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    warnings.simplefilter("ignore")
    kind, size = TASKS[task]
    model = _model(library, kind, folder)
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    flops = None
    with torch.inference_mode():
        if count_flops:
            with FlopCounterMode(display=False) as counter:
                _call(kind, model, size, "eager")()
            flops = int(counter.get_total_flops())
        eager = run = _call(kind, model, size, variant)
        if variant.startswith("compile"):
            # Freezing lets inductor fold the weights as constants and pre-pack them for
            # oneDNN once, instead of reordering every convolution's weights on every call.
            import torch._inductor.config as inductor

            inductor.freezing = variant == "compile_frozen"
            run = _call(kind, torch.compile(model), size, variant)
        first_s, _ = h.timed(run)
        if run is not eager:
            eager()
        walls, eager_walls = [], []
        for _ in range(calls):
            walls.append(h.timed(run)[0])
            if run is not eager:
                eager_walls.append(h.timed(eager)[0])
    return {"wall_s": walls, "eager_s": eager_walls, "first_s": first_s, "flops": flops,
            "peak_rss_mb": h.peak_rss_mb()}  # fmt: skip


def matmul_peak(n: int = 4096, tries: int = 6) -> float:
    """Best fp32 GFLOP/s of an n x n matmul on this machine."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(h.timed(lambda: a @ b)[0] for _ in range(tries))
    return 2 * n**3 / best / 1e9


def _throughput(flops: int, seconds: float, peak: float) -> dict[str, float]:
    return {"gflop_per_s": flops / seconds / 1e9, "of_peak": flops / seconds / 1e9 / peak}


def main(args: Any) -> list[dict[str, Any]]:
    folder = str(_checkpoints.ensure("sd15"))
    with h.LoadWindow() as load:
        peaks = [matmul_peak()]
    records = []
    for task in args.tasks:
        options = {"task": task, "folder": folder, "calls": args.calls, "variant": "eager"}
        flops = h.worker(__file__, "step", library="diffusekit", count_flops=True, **options)
        flops = flops["flops"]
        with h.LoadWindow() as load:
            runs = h.interleaved(__file__, "step", args.repeat, count_flops=False, **options)
        samples = {lib: [t for r in runs[lib] for t in r["wall_s"]] for lib in h.LIBRARIES}
        peaks.append(matmul_peak())
        peak = max(peaks)
        extra = {
            "gflop": flops / 1e9,
            "diffusekit_at_best": _throughput(flops, min(samples["diffusekit"]), peak),
            "reference_at_best": _throughput(flops, min(samples["reference"]), peak),
            "peak_rss_mb": {lib: max(r["peak_rss_mb"] for r in runs[lib]) for lib in runs},
        }
        records.append(
            h.figure(f"compute.{task}", TITLES[task], "s", samples["diffusekit"],
                     samples["reference"], target=TARGETS.get(task), load=load.pair, **extra)
        )  # fmt: skip
        for variant in args.variants:
            with h.LoadWindow() as load:
                done = [
                    h.worker(__file__, "step", library="diffusekit", count_flops=False,
                             **{**options, "variant": variant})
                    for _ in range(args.repeat)
                ]  # fmt: skip
            # Compiled calls alternate with eager calls of the same model in the same process,
            # so both see the same load; other variants compare with the eager workers above.
            paired = all(r["eager_s"] for r in done)
            baseline = [t for r in done for t in r["eager_s"]] if paired else samples["diffusekit"]
            where = "same process, alternating" if paired else "same run"
            title = f"{TITLES[task]}, diffusekit {variant} vs eager ({where})"
            records.append(
                h.figure(f"compute.{task}.{variant}", title, "s",
                         [t for r in done for t in r["wall_s"]], baseline,
                         load=load.pair, first_call_s=[r["first_s"] for r in done])
            )  # fmt: skip
    records.append(h.figure("compute.matmul_peak", "fp32 4096^3 matmul", "GFLOP/s", peaks))
    return records


if __name__ == "__main__":
    parser = h.parser(__doc__.splitlines()[0], repeat=2)
    parser.add_argument("--calls", type=int, default=2, help="timed calls per worker process")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument(
        "--variants", nargs="*", default=[], choices=VARIANTS[1:],
        help="also time diffusekit with these (compile time reported as first_call_s)",
    )  # fmt: skip
    h.run_script(__file__, {"step": step_worker}, main, parser)
