"""Import cost and plugin discovery time, diffusekit beside the reference, in one run.

Each figure is a fresh interpreter (subprocess), repeated; prints medians, spread and ratios,
and one JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from diffusekit.testing import write_fake_distribution


def time_code(code: str, repeat: int, env: dict[str, str] | None = None) -> list[float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import time\nt=time.perf_counter()\n{code}\nprint(time.perf_counter()-t)",
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout.split()[-1]
        runs.append(float(out))
    return runs


def fake_site(count: int, root: Path) -> Path:
    site = root / f"site-{count}"
    for i in range(count):
        write_fake_distribution(
            site,
            f"fake-plugin-{i}",
            entry_points={"diffusekit.components": {f"fakelib.Thing{i}": f"fake_{i}:Thing"}},
        )
    return site


def report(name: str, ours: list[float], reference: list[float] | None) -> None:
    row = {
        "figure": name,
        "diffusekit_median_s": statistics.median(ours),
        "diffusekit_spread_s": max(ours) - min(ours),
    }
    text = f"{name:<44} diffusekit {row['diffusekit_median_s'] * 1000:8.1f} ms"
    if reference:
        row["reference_median_s"] = statistics.median(reference)
        row["ratio"] = row["diffusekit_median_s"] / row["reference_median_s"]
        text += (
            f"   reference {row['reference_median_s'] * 1000:8.1f} ms   ratio {row['ratio']:.3f}"
        )
    print(text)
    print(json.dumps(row))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reference = time_code("import diffusers", args.repeat)
    report("import package", time_code("import diffusekit", args.repeat), reference)
    report(
        "import + a scheduler class",
        time_code("from diffusekit import DDIMScheduler", args.repeat),
        time_code("from diffusers import DDIMScheduler", args.repeat),
    )
    with tempfile.TemporaryDirectory() as tmp:
        for count in (100, 1000):
            site = fake_site(count, Path(tmp))
            env = dict(os.environ, PYTHONPATH=str(site))
            code = "from diffusekit import registry\nregistry.discovery()"
            report(
                f"discovery with {count} fake distributions",
                time_code(code, args.repeat, env),
                None,
            )


if __name__ == "__main__":
    main()
