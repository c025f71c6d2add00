"""The small harness every benchmark shares: fresh-process workers, repetitions, statistics,
peak RSS, machine facts, load average, and JSON records the report step renders.

A benchmark script defines worker functions and a `main(args)`; `run_script` dispatches.
`python bench/bench_x.py --worker NAME '{"json": "args"}'` runs one worker in this fresh
interpreter and prints its result as the last stdout line; the parent calls it with
`worker(...)`. Records go to bench/results/<script>.json (one file per script, replaced
on each run; `--tag T` writes <script>-T.json beside it, for an extra run with other
options); `bench/report.py` turns all of them into docs/benchmarks.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LIBRARIES = ("diffusekit", "reference")
CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16")

Worker = Callable[..., dict[str, Any]]


# --------------------------------------------------------------------------- measuring


def stats(samples: Iterable[float]) -> dict[str, Any]:
    """Median, best, worst and relative spread ((max - min) / median) of the samples."""
    values = sorted(float(v) for v in samples)
    median = statistics.median(values)
    return {
        "median": median,
        "min": values[0],
        "max": values[-1],
        "spread": (values[-1] - values[0]) / median if median else 0.0,
        "n": len(values),
        "samples": values,
    }


def peak_rss_mb() -> float:
    """This process's own resident high-water mark (VmHWM), in MB.

    `ru_maxrss` is not used: a child's counter starts from the parent's at fork.
    """
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("no VmHWM in /proc/self/status (the harness needs Linux)")


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def warm_page_cache(folder: Path) -> None:
    """Read every file under `folder` once, so timed loads start from a warm page cache."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


# ------------------------------------------------------------------------------ workers


def worker(script: str, name: str, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """Run worker `name` of `script` in a fresh interpreter; its last stdout line, parsed."""
    command = [sys.executable, script, "--worker", name, json.dumps(kwargs)]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env=env or dict(os.environ)
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {name} {kwargs} of {script} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def interleaved(
    script: str, name: str, repeat: int, **kwargs: Any
) -> dict[str, list[dict[str, Any]]]:
    """`repeat` rounds of worker `name` per library, alternating which library goes first."""
    runs: dict[str, list[dict[str, Any]]] = {library: [] for library in LIBRARIES}
    for index in range(repeat):
        order = LIBRARIES if index % 2 == 0 else LIBRARIES[::-1]
        for library in order:
            runs[library].append(worker(script, name, library=library, **kwargs))
    return runs


# ------------------------------------------------------------------------------ records


def figure(
    key: str,
    title: str,
    unit: str,
    ours: Iterable[float],
    reference: Iterable[float] | None = None,
    *,
    target: float | None = None,
    load: tuple[float, float] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One figure: both libraries' statistics, the ratio of medians (and of bests: contention
    only adds time, so on a loaded machine the best samples are the steadier pair), and its
    target, judged on the ratio of medians."""
    record: dict[str, Any] = {"key": key, "title": title, "unit": unit}
    record["diffusekit"] = stats(ours)
    if reference is not None:
        record["reference"] = stats(reference)
        record["ratio"] = record["diffusekit"]["median"] / record["reference"]["median"]
        record["ratio_best"] = record["diffusekit"]["min"] / record["reference"]["min"]
    if target is not None:
        record["target"] = target
        record["met"] = record.get("ratio", float("inf")) <= target
    if load is not None:
        record["load_before"], record["load_after"] = load
    return record | extra


def alternating(samplers: Sequence[Callable[[], float]], repeats: int) -> list[list[float]]:
    """`repeats` samples from each sampler, in this one process, after one warm-up call of
    each; the order is reversed every other round, so drifting load hits all alike."""
    for sample in samplers:
        sample()
    samples: list[list[float]] = [[] for _ in samplers]
    order = list(enumerate(samplers))
    for index in range(repeats):
        for slot, sample in order if index % 2 == 0 else order[::-1]:
            samples[slot].append(sample())
    return samples


def one_thread_figures(
    names: Iterable[str], measure: Callable[[str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """`measure(name)` for each name in this process, torch on one thread, warnings silenced,
    each record with the load average before and after it."""
    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    records = []
    for name in names:
        with LoadWindow() as load:
            record = measure(name)
        records.append(record | {"load_before": load.before, "load_after": load.after})
    return records


class LoadWindow:
    """Load average (1 min) before and after a block: `with LoadWindow() as load: ...`."""

    def __enter__(self) -> LoadWindow:
        self.before = loadavg()
        return self

    def __exit__(self, *exc: object) -> None:
        self.after = loadavg()

    @property
    def pair(self) -> tuple[float, float]:
        return (self.before, self.after)


def machine() -> dict[str, Any]:
    """Cores, CPU model and the vector flags that matter for fp32 kernels, library versions."""
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields = dict(
        line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line and line.strip()
    )
    flags = set(fields.get("flags\t\t", fields.get("flags", "")).split())
    return {
        "cpu": fields.get("model name\t", platform.processor()).strip(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu_flags": [flag for flag in CPU_FLAGS if flag in flags],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "reference": _version("diffusers"),
        "transformers": _version("transformers"),
        "python": platform.python_version(),
        "commit": _git_commit(),
    }


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    done = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def save(script: str, records: list[dict[str, Any]], args: argparse.Namespace) -> Path:
    """Write this script's records, the command that made them and the machine facts."""
    RESULTS.mkdir(exist_ok=True)
    name = Path(script).stem
    path = RESULTS / (f"{name}-{args.tag}.json" if args.tag else f"{name}.json")
    command = " ".join(["python", f"bench/{Path(script).name}", *sys.argv[1:]])
    payload = {
        "script": name,
        "command": command,
        "args": vars(args),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": records,
    }
    path.write_text(json.dumps(payload, indent=1) + "\n")
    for record in records:
        print(_line(record))
    return path


def _line(record: dict[str, Any]) -> str:
    ours = record["diffusekit"]
    text = f"{record['title']:<52} diffusekit {ours['median']:10.4g} {record['unit']}"
    if "reference" in record:
        text += f"  reference {record['reference']['median']:10.4g}  ratio {record['ratio']:.3f}"
    if "target" in record:
        text += f"  target <= {record['target']} {'met' if record['met'] else 'MISSED'}"
    return text


# ---------------------------------------------------------------------------- dispatching


def run_script(
    script: str,
    workers: dict[str, Worker],
    main: Callable[[argparse.Namespace], list[dict[str, Any]]],
    parser: argparse.ArgumentParser,
) -> None:
    """Run a worker (`--worker NAME JSON`) or the script's `main` and save its records."""
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        result = workers[sys.argv[2]](**json.loads(sys.argv[3]))
        print(json.dumps(result))
        return
    args = parser.parse_args()
    save(script, main(args), args)


def parser(description: str, repeat: int) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--repeat", type=int, default=repeat, help="repetitions per figure")
    result.add_argument("--tag", default="", help="save as bench/results/<script>-<tag>.json")
    return result
