"""Model compute: one Stable Diffusion 1.5 UNet forward and one SD VAE decode, diffusekit vs
the reference, on the same random weights, each measured in its own fresh process.

Tasks: the SD 1.5 UNet (860M parameters) at 32x32 and 64x64 latents, batch 2 (one guided
step), 77 context tokens; the SD VAE decoder on a 32x32 latent (a 256x256 image). Weights are
written once by the reference under bench/.cache/unet/. Each worker loads the model, runs
one warm-up, then `--repeat` timed calls; the parent interleaves the two libraries per task
and prints the median and best wall time and the median process CPU time (other load on a
shared machine only adds time, so the best is the steadier comparison), the worker's peak
RSS, and achieved GFLOP/s at the best time (FLOPs counted with torch's FlopCounterMode)
against this machine's fp32 matmul peak (measured here: best 4096^3 matmul, before and after the
runs; oneDNN convolutions can exceed it).

    python bench/bench_unet.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "unet"
LIBRARIES = ("diffusekit", "diffusers")

SD15_UNET = {"sample_size": 64, "cross_attention_dim": 768, "attention_head_dim": 8}
SD_VAE = {
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 512,
}
TASKS = {
    "unet-32": ("unet", 32),
    "unet-64": ("unet", 64),
    "vae-decode-256": ("vae", 32),
}


# ------------------------------------------------------------------------------ weights


def _write_weights() -> None:
    """Random weights for both models, written by the reference (run in a subprocess)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    torch.manual_seed(0)
    if not (CACHE / "unet" / "config.json").exists():
        UNet2DConditionModel(**SD15_UNET).save_pretrained(CACHE / "unet")
    if not (CACHE / "vae" / "config.json").exists():
        AutoencoderKL(**SD_VAE).save_pretrained(CACHE / "vae")


# ------------------------------------------------------------------------------- worker


def _model_class(library: str, kind: str) -> Any:
    name = "UNet2DConditionModel" if kind == "unet" else "AutoencoderKL"
    if library == "diffusekit":
        import diffusekit_models

        return getattr(diffusekit_models, name)
    import diffusers

    return getattr(diffusers, name)


def _call(kind: str, model: Any, size: int) -> Any:
    import torch

    generator = torch.Generator().manual_seed(0)
    if kind == "unet":
        sample = torch.randn(2, 4, size, size, generator=generator)
        context = torch.randn(2, 77, 768, generator=generator)
        timestep = torch.tensor([500, 500])
        return lambda: model(sample, timestep, context).sample
    latents = torch.randn(1, 4, size, size, generator=generator)
    return lambda: model.decode(latents).sample


def _count_flops(run: Any) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return int(counter.get_total_flops())


def _worker(library: str, task: str, repeat: int, count_flops: bool) -> dict[str, Any]:
    import torch

    kind, size = TASKS[task]
    model = _model_class(library, kind).from_pretrained(CACHE / kind).eval()
    run = _call(kind, model, size)
    walls, cpus = [], []
    with torch.inference_mode():
        run()
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        flops = _count_flops(run) if count_flops else None
    return {
        "library": library,
        "task": task,
        "wall_s": walls,
        "cpu_s": cpus,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "flops": flops,
        "threads": torch.get_num_threads(),
    }


def _matmul_peak(n: int = 4096, tries: int = 6) -> float:
    """Best fp32 GFLOP/s of an n x n matmul on this machine (measured before and after)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


# ------------------------------------------------------------------------------- parent


def _run_worker(library: str, task: str, repeat: int, count_flops: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", library, "--task", task]
    command += ["--repeat", str(repeat)] + (["--count-flops"] if count_flops else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=os.environ)
    if done.returncode != 0:
        raise RuntimeError(f"{library} {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(results: list[dict[str, Any]], flops: int, peak: float) -> dict[str, Any]:
    walls = [t for r in results for t in r["wall_s"]]
    cpus = [t for r in results for t in r["cpu_s"]]
    wall = statistics.median(walls)
    return {
        "wall_s": round(wall, 3),
        "best_s": round(min(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in results)),
        "gflops": round(flops / 1e9, 1),
        "gflop_per_s": round(flops / min(walls) / 1e9, 1),
        "of_peak": round(flops / min(walls) / 1e9 / peak, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per worker")
    parser.add_argument("--rounds", type=int, default=1, help="worker pairs per task")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--task", choices=list(TASKS), help=argparse.SUPPRESS)
    parser.add_argument("--count-flops", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write-weights", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_weights:
        _write_weights()
        return
    if args.worker:
        print(json.dumps(_worker(args.worker, args.task, args.repeat, args.count_flops)))
        return

    subprocess.run([sys.executable, __file__, "--write-weights"], check=True)
    peak = _matmul_peak()
    measured = []
    for task in args.tasks:
        results: dict[str, list[dict[str, Any]]] = {lib: [] for lib in LIBRARIES}
        flops = 0
        for round_index in range(args.rounds):
            order = LIBRARIES if round_index % 2 == 0 else LIBRARIES[::-1]
            for library in order:
                first = round_index == 0 and library == "diffusekit"
                result = _run_worker(library, task, args.repeat, count_flops=first)
                flops = result["flops"] or flops
                results[library].append(result)
                print(json.dumps(result))
        measured.append((task, flops, results))
    peak = max(peak, _matmul_peak())
    rows = [
        (task, library, _summary(results[library], flops, peak))
        for task, flops, results in measured
        for library in LIBRARIES
    ]
    print(json.dumps({"fp32_matmul_peak_gflop_per_s": round(peak, 1)}))
    print(f"\nfp32 matmul peak: {peak:.1f} GFLOP/s\n")
    header = (
        "task",
        "library",
        "wall s",
        "best s",
        "CPU s",
        "peak RSS MB",
        "GFLOP",
        "GFLOP/s",
        "of peak",
    )
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for task, library, s in rows:
        print(
            f"| {task} | {library} | {s['wall_s']} | {s['best_s']} | {s['cpu_s']} | "
            f"{s['peak_rss_mb']} | {s['gflops']} | {s['gflop_per_s']} | {s['of_peak']:.0%} |"
        )


if __name__ == "__main__":
    main()
