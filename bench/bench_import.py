"""Import cost, diffusekit beside the reference, and plugin discovery time.

Each sample is a fresh interpreter timing its own import (interpreter start-up excluded);
the libraries alternate. "Stable Diffusion pipeline class" is the time until
`StableDiffusionPipeline` is usable from each library's top-level package.

    python bench/bench_import.py --repeat 5
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _harness as h

CODE = {
    "package": {"diffusekit": "import diffusekit", "reference": "import diffusers"},
    "sd_pipeline": {
        "diffusekit": "from diffusekit import StableDiffusionPipeline",
        "reference": "from diffusers import StableDiffusionPipeline",
    },
    "scheduler": {
        "diffusekit": "from diffusekit import DDIMScheduler",
        "reference": "from diffusers import DDIMScheduler",
    },
}
TITLES = {
    "package": "import the package",
    "sd_pipeline": "import to a usable Stable Diffusion pipeline class",
    "scheduler": "import to a usable DDIMScheduler class",
}
TARGETS = {"sd_pipeline": 0.4}


def time_import(code: str, env: dict[str, str] | None = None) -> float:
    program = f"import time\nt = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, env=env
    )
    return float(done.stdout.split()[-1])


def fake_site(count: int, root: Path) -> Path:
    from diffusekit.testing import write_fake_distribution

    site = root / f"site-{count}"
    for i in range(count):
        entry = {"diffusekit.components": {f"fakelib.Thing{i}": f"fake_{i}:Thing"}}
        write_fake_distribution(site, f"fake-plugin-{i}", entry_points=entry)
    return site


def main(args: Any) -> list[dict[str, Any]]:
    records = []
    for key, code in CODE.items():
        samples: dict[str, list[float]] = {"torch": [], **{lib: [] for lib in h.LIBRARIES}}
        with h.LoadWindow() as load:
            for index in range(args.repeat):
                order = h.LIBRARIES if index % 2 == 0 else h.LIBRARIES[::-1]
                for library in order:
                    samples[library].append(time_import(code[library]))
                if key == "sd_pipeline":
                    samples["torch"].append(time_import("import torch"))
        records.append(
            h.figure(
                f"import.{key}",
                TITLES[key],
                "s",
                samples["diffusekit"],
                samples["reference"],
                target=TARGETS.get(key),
                load=load.pair,
            )
        )
        if samples["torch"]:
            title = "import torch alone (context, same rounds)"
            records.append(h.figure("import.torch", title, "s", samples["torch"], load=load.pair))
    with tempfile.TemporaryDirectory() as tmp:
        for count in (100, 1000):
            env = dict(os.environ, PYTHONPATH=str(fake_site(count, Path(tmp))))
            code = "from diffusekit import registry\nregistry.discovery()"
            with h.LoadWindow() as load:
                samples_ = [time_import(code, env) for _ in range(args.repeat)]
            title = f"plugin discovery with {count} fake distributions"
            records.append(
                h.figure(f"import.discovery_{count}", title, "s", samples_, load=load.pair)
            )
    return records


if __name__ == "__main__":
    h.run_script(__file__, {}, main, h.parser(__doc__.splitlines()[0], repeat=5))
