"""bench/report.py: which figures are judged, and which notes go beside them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _report() -> Any:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _stats(value: float) -> dict[str, Any]:
    return {"median": value, "min": value, "max": value, "spread": 0.0, "n": 1}


def _figure(key: str, ours: float, theirs: float, target: float) -> dict[str, Any]:
    ratio = ours / theirs
    return {
        "key": key, "title": f"title of {key}", "unit": "s", "diffusekit": _stats(ours),
        "reference": _stats(theirs), "ratio": ratio, "ratio_best": ratio, "target": target,
        "met": ratio <= target,
    }  # fmt: skip


def _result(tag: str, figures: list[dict[str, Any]]) -> dict[str, Any]:
    machine = {
        "commit": "abc", "cpu": "cpu", "usable_cores": 2, "cores": 2, "cpu_flags": [],
        "torch": "t", "torch_threads": 1, "reference": "r", "transformers": "x", "python": "3",
    }  # fmt: skip
    command = f"python bench/bench_unet.py {tag}"
    return {"script": "bench_unet", "command": command, "args": {"tag": tag},
            "finished": "now", "machine": machine, "figures": figures}  # fmt: skip


def test_a_tagged_run_is_shown_in_its_section_but_not_judged() -> None:
    report = _report()
    results = {
        "bench_unet": _result("", [_figure("compute.unet-32", 0.8, 1.0, 1.0)]),
        "bench_unet-compile": _result("compile", [_figure("compute.unet-32", 1.2, 1.0, 1.0)]),
    }
    notes = {
        "intro": "intro",
        "figures": {"compute.unet-32": "main-run note", "compute.unet-32@compile": "tag note"},
    }
    text = report.render(results, notes)
    targets = text.split("## Targets")[1].split("## ")[0]
    assert "| 0.80 |" in targets and "1.20" not in targets
    assert "**missed**" not in text
    main, tagged = text.split("python bench/bench_unet.py compile")
    assert "main-run note" in main and "tag note" not in main
    assert "tag note" in tagged and "main-run note" not in tagged
