"""`diffusekit inspect CHECKPOINT`: what a checkpoint holds and what it needs installed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from . import _formats
from ._errors import command_errors, one_line
from ._formats import format_option


@click.command("inspect")
@click.argument("checkpoint")
@click.option("--check", is_flag=True, help="Also load the pipeline and report OK or the error.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--revision", help="Hub branch, tag or commit (same as CHECKPOINT@revision).")
@click.option("--subfolder", help="Folder inside CHECKPOINT that holds model_index.json.")
@click.option("--variant", help="Weights variant --check loads (fp16, ...).")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@format_option
def inspect_command(
    checkpoint: str,
    check: bool,
    as_json: bool,
    revision: str | None,
    subfolder: str | None,
    variant: str | None,
    debug: bool,
) -> None:
    """Show CHECKPOINT's pipeline class, components, providers, files and sizes, or the
    generation settings stored in an image (IMAGE.png).

    Reads metadata only (no plugin is imported, no tensor is read) unless --check is given.
    Exit status 1 when the checkpoint cannot be read or --check fails.
    """
    from ._checkpoint_report import build_report
    from ._image_report import is_image
    from ._loading import check_source
    from ._sources import parse, without_revision

    if as_json:
        _formats.set_current("json")
    if is_image(checkpoint):
        _inspect_image(Path(checkpoint), debug)
        return
    with command_errors(debug):
        check_source(without_revision(checkpoint))
        source = parse(checkpoint, revision=revision, subfolder=subfolder, variant=variant)
        report = build_report(source.location, revision=source.revision, subfolder=subfolder)
    if check:
        report.check = _load_check(source, debug)
    _formats.emit_lines(report.as_dict(), render(report))
    if report.check is not None and not report.check.startswith("OK"):
        raise click.exceptions.Exit(1)


def _inspect_image(path: Path, debug: bool) -> None:
    from . import _image_report

    with command_errors(debug):
        report = _image_report.image_report(path)
    _formats.emit_lines(report, _image_report.render(report))


def _load_check(source: Any, debug: bool) -> str:
    from ..pipeline import DiffusionPipeline
    from . import _sources

    start = time.perf_counter()
    try:
        index = _sources.read_index(source)
        DiffusionPipeline.from_pretrained(
            _sources.loadable(source, index), **_sources.load_options(source)
        )
    except Exception as exc:
        if debug:
            raise
        return f"FAILED: {one_line(exc)}"
    return f"OK ({time.perf_counter() - start:.1f} s)"


def human_size(size: int | None) -> str:
    if size is None:
        return "size unknown (not downloaded)"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _provider_text(provider: Any) -> str:
    if provider is None:
        return "-"
    if provider.status in ("ok", "library-resolver"):
        via = " (library resolver)" if provider.status == "library-resolver" else ""
        return f"{provider.distribution} {provider.version}{via}"
    if provider.status == "registered":
        return "register() in this process"
    if provider.status == "missing":
        return f"MISSING: {provider.install or 'no known distribution provides it'}"
    return f"{provider.status.upper()}: {provider.problem}"


def _component_lines(component: Any) -> list[str]:
    if component.class_name is None:
        return [f"  {component.name}: None (optional component saved as None)"]
    lines = [
        f"  {component.name}: {component.library}.{component.class_name}  "
        f"[{_provider_text(component.provider)}]"
    ]
    details = []
    if component.weights:
        details.append(f"formats: {', '.join(component.formats)}")
        details.append(f"variants: {', '.join(component.variants)}")
        params = component.parameters
        dtypes = sorted({d for f in component.weights for d in f.dtypes})
        if params is not None:
            details.append(f"{params:,} parameters ({', '.join(dtypes)})")
    else:
        details.append("no weights")
    details.append(f"{human_size(component.size)} on disk")
    lines.append("      " + "; ".join(details))
    return lines


def render(report: Any) -> list[str]:
    lines = [
        f"checkpoint: {report.source}",
        f"pipeline: {report.pipeline_class}  [{_provider_text(report.pipeline_provider)}]",
    ]
    if report.families:
        lines.append(f"model family (AutoPipeline): {', '.join(report.families)}")
    lines.append("components:")
    for component in report.components:
        lines += _component_lines(component)
    for key, value in report.values.items():
        lines.append(f"  {key} = {value!r}")
    total = [c.parameters for c in report.components if c.parameters is not None]
    sizes = [c.size for c in report.components]
    known = all(s is not None for s in sizes)
    disk = human_size(sum(s for s in sizes if s is not None) if known else None)
    lines.append(f"total: {sum(total):,} parameters; {disk} on disk")
    if report.check is not None:
        lines.append(f"load check: {report.check}")
    return lines
