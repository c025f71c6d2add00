"""`diffusekit plugins list | check | why | disable | enable`: what is installed, whether it
works, who wins, and which distributions may load."""

from __future__ import annotations

import click

from . import _formats
from ._formats import format_option


def _short_group(group: str) -> str:
    return group.removeprefix("diffusekit.")


@click.group()
def plugins() -> None:
    """Inspect installed plugin distributions (entry points); disable or enable them."""


@plugins.command("list")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--requirements",
    is_flag=True,
    help="Print the installed plugin set as pip requirements (save it, pip install -r it).",
)
def list_command(as_json: bool, requirements: bool) -> None:
    """List every claimed name from metadata alone (nothing is imported)."""
    from diffusekit import registry

    if as_json:
        _formats.set_current("json")
    if requirements:
        _print_requirements()
        return
    rows = registry.list_entries()
    if _formats.current() == "json":
        for row in rows:
            click.echo(_formats.to_json(row.as_dict()))
        return
    if not rows:
        click.echo("no diffusekit plugins installed (pip install diffusekit-schedulers ...)")
        return
    header = ("GROUP", "NAME", "TARGET", "DISTRIBUTION", "VERSION", "STATUS")
    table: list[tuple[str, ...]] = [header]
    table += [
        (_short_group(r.group), r.name, r.target, r.distribution, r.version, r.status) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


def _print_requirements() -> None:
    from ._requirements import installed

    rows = installed()
    if _formats.current() == "json":
        for row in rows:
            click.echo(_formats.to_json(row.as_dict()))
        return
    for row in rows:
        click.echo(row.line())


@plugins.command("check")
@format_option
@click.argument("names", nargs=-1)
@click.option("--all", "check_all", is_flag=True, help="Check every installed plugin distribution.")
def check_command(names: tuple[str, ...], check_all: bool) -> None:
    """Import and validate plugins: distributions or `<library>.<Class>` names.

    Exits with status 1 if anything fails.
    """
    from diffusekit import registry
    from diffusekit.testing import check_distribution

    found = registry.discovery()
    targets = list(names)
    if check_all or not targets:
        targets = sorted(d.name for d in found.distributions.values())
    failures = 0
    for target in targets:
        failures += _check_one(target, found, check_distribution)
    if failures:
        raise SystemExit(1)


def _check_one(target: str, found: object, check_distribution: object) -> int:
    from diffusekit import registry
    from diffusekit._settings import normalize_dist_name
    from diffusekit.errors import PluginError

    if normalize_dist_name(target) in registry.discovery().distributions:
        result = check_distribution(target)  # type: ignore[operator]
        status = "ok" if result.ok else "FAILED"
        lines = [f"{target}: {status} ({len(result.checked)} entry points)"]
        lines += [f"  {problem}" for problem in result.problems]
        data = {"target": target, "ok": result.ok, "checked": len(result.checked)}
        _formats.emit_lines({**data, "problems": list(result.problems)}, lines)
        return 0 if result.ok else 1
    library, _, class_name = target.rpartition(".")
    if not library:
        problem = "not an installed distribution nor a <library>.<Class> name"
        _report_check(target, False, f"{target}: FAILED ({problem})", problem=problem)
        return 1
    try:
        cls = registry.resolve(library, class_name)
    except PluginError as exc:
        _report_check(target, False, f"{target}: FAILED\n  {exc}", problem=str(exc))
        return 1
    where = f"{cls.__module__}.{cls.__qualname__}"
    _report_check(target, True, f"{target}: ok ({where})", resolved=where)
    return 0


def _report_check(target: str, ok: bool, text: str, **extra: str) -> None:
    _formats.emit_lines({"target": target, "ok": ok, **extra}, text.splitlines())


@plugins.command("why")
@format_option
@click.argument("name")
def why_command(name: str) -> None:
    """Show every claimant of NAME, which one wins, and why."""
    from diffusekit import registry

    explanation = registry.explain(name)
    data = {
        "name": name,
        "claims": [claim.as_dict() for claim in explanation.claims],
        "winner": explanation.winner,
        "reason": explanation.reason,
    }
    if not explanation.claims:
        lines = [f"{name}: {explanation.reason}"]
    else:
        lines = [f"{name}:"]
        lines += [
            f"  {c.distribution} {c.version} -> {c.target} [{c.status}]" for c in explanation.claims
        ]
        verdict = "no winner: " if explanation.winner is None else f"winner: {explanation.winner} ("
        lines.append(verdict + explanation.reason + ("" if explanation.winner is None else ")"))
    _formats.emit_lines(data, lines)
    if explanation.winner is None:
        raise SystemExit(1)


@plugins.command("disable")
@format_option
@click.argument("distribution")
def disable_command(distribution: str) -> None:
    """Never load DISTRIBUTION (persistent, in the user's plugins.json) until `enable`."""
    _set_enabled(distribution, False)


@plugins.command("enable")
@format_option
@click.argument("distribution")
def enable_command(distribution: str) -> None:
    """Undo `disable`: let DISTRIBUTION load again."""
    _set_enabled(distribution, True)


def _set_enabled(distribution: str, enabled: bool) -> None:
    from diffusekit import _user_config, registry
    from diffusekit._settings import normalize_dist_name

    from ._errors import command_errors

    key = normalize_dist_name(distribution)
    with command_errors(debug=False):
        current = {normalize_dist_name(d) for d in _user_config.disabled_plugins()}
        path = _user_config.set_disabled(sorted(current - {key} if enabled else current | {key}))
    registry.refresh()
    found = registry.discovery()
    installed = key in found.distributions
    still = found.settings.why_blocked(key)
    lines = [f"{key}: {'enabled' if enabled else 'disabled'} (in {path})"]
    if not installed:
        lines.append(f"note: {key} is not installed (no diffusekit entry points found)")
    if enabled and still is not None:
        lines.append(f"note: {key} is still blocked in this environment; to load it: {still}")
    data = {
        "distribution": key,
        "enabled": enabled,
        "installed": installed,
        "blocked_by": still,
        "settings_file": str(path),
    }
    _formats.emit_lines(data, lines)
