"""Model loading: diffusekit's ModelMixin.from_pretrained against the reference's.

One ~1 GB fp32 checkpoint (a stack of Linear layers, defined identically with both libraries'
ModelMixin) is written once by the reference under bench/.cache/. Every measurement runs in
a fresh process: import, note RSS, time `from_pretrained`, then time a pass that reads every
weight (a memory-mapped load is lazy, so "ready" includes touching the pages), and report
peak RSS above the pre-load RSS. Runs are interleaved; medians are printed, plus one JSON
line per run and per summary.

    python bench/bench_model_load.py --repeat 5
    python bench/bench_model_load.py --repeat 5 --dtype float16

The reference is measured as installed here (no `accelerate`: it falls back to
low_cpu_mem_usage=False) and, when bench/.cache/accelerate-site holds accelerate
(`pip install --no-deps --target bench/.cache/accelerate-site accelerate`), also with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
ACCELERATE_SITE = CACHE / "accelerate-site"


def _classes(library: str, default_width: int, default_depth: int) -> Any:
    from torch import nn

    def build(module: nn.Module, width: int, depth: int) -> None:
        module.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        module.norm = nn.LayerNorm(width)

    if library == "diffusekit":
        from diffusekit.config import BaseConfig
        from diffusekit.modeling import ModelMixin

        class StackConfig(BaseConfig):
            width: int = default_width
            depth: int = default_depth

        class Stack(ModelMixin):
            config_class = StackConfig

            def __init__(self, **config: Any) -> None:
                super().__init__(**config)
                build(self, self.config.width, self.config.depth)

        return Stack

    import diffusers
    from diffusers.configuration_utils import register_to_config

    class Stack(diffusers.ModelMixin, diffusers.ConfigMixin):  # type: ignore[no-redef]
        @register_to_config
        def __init__(self, width: int = default_width, depth: int = default_depth) -> None:
            super().__init__()
            build(self, width, depth)

    return Stack


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    """VmHWM: this process's own high-water mark (ru_maxrss also counts the parent's at spawn)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(library: str, folder: Path, width: int, depth: int, dtype: str) -> None:
    import warnings

    import torch

    warnings.simplefilter("ignore")
    cls = _classes(library.split("+")[0], width, depth)
    before = _rss()
    start = time.perf_counter()
    options = {} if dtype == "float32" else {"torch_dtype": getattr(torch, dtype)}
    model = cls.from_pretrained(folder, **options)
    loaded = time.perf_counter()
    with torch.no_grad():
        checksum = sum(float(p.sum()) for p in model.parameters())
    ready = time.perf_counter()
    peak = _peak_rss()
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    file_size = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    print(
        json.dumps(
            {
                "library": library,
                "load_s": loaded - start,
                "ready_s": ready - start,
                "peak_rss_mb": (peak - before) / 1e6,
                "weights_mb": weights / 1e6,
                "file_mb": file_size / 1e6,
                "checksum": checksum,
            }
        )
    )


def ensure_checkpoint(width: int, depth: int) -> Path:
    folder = CACHE / "model_load" / f"stack-w{width}-d{depth}"
    if not (folder / "diffusion_pytorch_model.safetensors").is_file():
        import torch

        torch.manual_seed(0)
        model = _classes("diffusers", width, depth)()
        model.save_pretrained(folder)
    return folder


def _warm_page_cache(path: Path) -> None:
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass


def _run(library: str, folder: Path, width: int, depth: int, dtype: str) -> dict[str, Any]:
    env = dict(os.environ)
    if library.endswith("+accelerate"):
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ACCELERATE_SITE), env.get("PYTHONPATH")])
        )
    command = [sys.executable, __file__, "--child", library, str(folder)]
    command += ["--width", str(width), "--depth", str(depth), "--dtype", dtype]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{library} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "FOLDER"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.width, args.depth, args.dtype)
        return
    folder = ensure_checkpoint(args.width, args.depth)
    _warm_page_cache(folder / "diffusion_pytorch_model.safetensors")
    libraries = ["diffusekit", "diffusers"]
    if (ACCELERATE_SITE / "accelerate").is_dir():
        libraries.append("diffusers+accelerate")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in libraries}
    for _ in range(args.repeat):
        for library in libraries:
            result = _run(library, folder, args.width, args.depth, args.dtype)
            runs[library].append(result)
            print(json.dumps({"run": result}), flush=True)
    _summarize(runs, args.dtype)


def _summarize(runs: dict[str, list[dict[str, Any]]], dtype: str) -> None:
    checksums = {round(r["checksum"], 3) for results in runs.values() for r in results}
    assert len(checksums) == 1, f"libraries loaded different weights: {checksums}"
    medians = {
        library: {
            key: statistics.median(r[key] for r in results)
            for key in ("load_s", "ready_s", "peak_rss_mb", "weights_mb", "file_mb")
        }
        for library, results in runs.items()
    }
    ours = medians["diffusekit"]
    print(f"{'library':<22}{'load s':>9}{'ready s':>9}{'peak RSS MB':>13}{'RSS/file':>10}")
    for library, m in medians.items():
        ratio = m["peak_rss_mb"] / m["file_mb"]
        print(
            f"{library:<22}{m['load_s']:>9.3f}{m['ready_s']:>9.3f}"
            f"{m['peak_rss_mb']:>13.0f}{ratio:>10.2f}"
        )
    for library, m in medians.items():
        summary = {"summary": library, "repeat": len(runs[library]), "dtype": dtype, **m}
        if library != "diffusekit":
            summary["ready_ratio_vs_diffusekit"] = m["ready_s"] / ours["ready_s"]
            summary["peak_rss_ratio_vs_diffusekit"] = m["peak_rss_mb"] / ours["peak_rss_mb"]
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
