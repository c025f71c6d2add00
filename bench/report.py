"""Render bench/results/*.json into docs/benchmarks.json and docs/benchmarks.md.

    python bench/report.py

The prose beside the figures lives in bench/report_notes.toml (one entry per section and per
figure key, `<key>@<tag>` for a run saved with `--tag`): what a figure means, and for a
target that is missed, why and the plan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tomllib

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"
SECTIONS = (
    ("bench_import", "Import"),
    ("bench_model_load", "Loading a Stable Diffusion 1.5 pipeline"),
    ("bench_pipeline", "A tiny pipeline's whole call"),
    ("bench_layers", "Layers at denoising-step sizes"),
    ("bench_unet", "Model compute"),
    ("bench_scheduler_step", "Scheduler step overhead"),
)


def _number(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.1f} {unit}"


def _cell(stats: dict[str, Any] | None, unit: str) -> str:
    if stats is None:
        return "-"
    return f"{_number(stats['median'], unit)} ±{stats['spread'] * 50:.0f}% (n={stats['n']})"


def _verdict(record: dict[str, Any]) -> str:
    if "target" not in record:
        return "-"
    return f"≤ {record['target']}: {'met' if record['met'] else '**missed**'}"


def _load(record: dict[str, Any]) -> str:
    if "load_before" not in record:
        return "-"
    return f"{record['load_before']:.1f} → {record['load_after']:.1f}"


def _ratio(record: dict[str, Any]) -> str:
    return f"{record['ratio']:.2f}" if "ratio" in record else "-"


def table(records: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| figure | diffusekit | reference | ratio | ratio of bests | target | load avg |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in records:
        cells = (
            r["title"],
            _cell(r["diffusekit"], r["unit"]),
            _cell(r.get("reference"), r["unit"]),
            _ratio(r),
            f"{r['ratio_best']:.2f}" if "ratio_best" in r else "-",
            _verdict(r),
            _load(r),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _compute_details(records: list[dict[str, Any]]) -> list[str]:
    rows = [r for r in records if "gflop" in r]
    if not rows:
        return []
    lines = [
        "",
        "| task | GFLOP | diffusekit GFLOP/s (of peak) | reference GFLOP/s (of peak) "
        "| peak RSS MB diffusekit / reference |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ours, theirs = r["diffusekit_at_best"], r["reference_at_best"]
        rss = r["peak_rss_mb"]
        lines.append(
            f"| {r['title']} | {r['gflop']:.0f} | {ours['gflop_per_s']:.1f} "
            f"({ours['of_peak']:.0%}) | {theirs['gflop_per_s']:.1f} ({theirs['of_peak']:.0%}) "
            f"| {rss['diffusekit']:.0f} / {rss['reference']:.0f} |"
        )
    lines.append("")
    lines.append(
        "GFLOP/s at each library's best call, against the best 4096³ matmul measured up to "
        "that task (the matmul row's samples; its median is shown, its best is the peak)."
    )
    return lines


def _machine(machine: dict[str, Any]) -> str:
    return (
        f"{machine['cpu']}, {machine['usable_cores']} usable cores of {machine['cores']}, "
        f"flags {' '.join(machine['cpu_flags']) or 'none of note'}; torch {machine['torch']} "
        f"({machine['torch_threads']} threads), reference diffusers {machine['reference']}, "
        f"transformers {machine['transformers']}, Python {machine['python']}"
    )


def render(results: dict[str, dict[str, Any]], notes: dict[str, Any]) -> str:
    lines = _body(results, notes)
    lines += [notes.get("compile", "").strip(), "", notes.get("history", "").strip(), ""]
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


def _body(results: dict[str, dict[str, Any]], notes: dict[str, Any]) -> list[str]:
    lines = ["# Benchmarks", "", notes["intro"].strip(), ""]
    lines += ["Regenerate everything with `nox -s bench`, or run single `bench/bench_*.py`"]
    lines += ["scripts (commands below) and then render with `python bench/report.py`.", ""]
    lines += ["## Targets", ""]
    targeted = [
        r
        for result in results.values()
        if not result["args"].get("tag")  # tagged runs are extra variants, shown in their section
        for r in result["figures"]
        if "target" in r
    ]
    lines += [*table(targeted), ""]
    lines += [notes.get("targets", "").strip(), ""]
    for script, heading in SECTIONS:
        runs = [result for result in results.values() if result["script"] == script]
        if not runs:
            continue
        lines += [f"## {heading}", "", notes.get(script, "").strip(), ""]
        for result in runs:
            lines += _run(result, notes)
    return lines


def _run(result: dict[str, Any], notes: dict[str, Any]) -> list[str]:
    lines = ["```", result["command"], "```", ""]
    lines += [f"Finished {result['finished']} at commit {result['machine']['commit']}; "]
    lines[-1] += _machine(result["machine"]) + "."
    figures, tag = result["figures"], result["args"].get("tag")
    if tag:  # an extra variant run: its targets are judged in the main run
        figures = [{k: v for k, v in r.items() if k not in ("target", "met")} for r in figures]
    lines += ["", *table(figures), *_compute_details(figures), ""]
    for record in figures:
        key = f"{record['key']}@{tag}" if tag else record["key"]
        note = notes.get("figures", {}).get(key)
        if note:
            lines += [f"- **{record['title']}**: {' '.join(note.split())}"]
    return [*lines, ""]


def main() -> None:
    results = {
        path.stem: json.loads(path.read_text())
        for path in sorted((HERE / "results").glob("bench_*.json"))
    }
    notes = tomllib.loads((HERE / "report_notes.toml").read_text(encoding="utf-8"))
    (DOCS / "benchmarks.json").write_text(json.dumps(results, indent=1) + "\n")
    (DOCS / "benchmarks.md").write_text(render(results, notes), encoding="utf-8")
    print(f"wrote {DOCS / 'benchmarks.md'} and {DOCS / 'benchmarks.json'}")


if __name__ == "__main__":
    main()
