"""`diffusekit plugins list | check | why`: what is installed, whether it works, who wins."""

from __future__ import annotations

import json

import click


def _short_group(group: str) -> str:
    return group.removeprefix("diffusekit.")


@click.group()
def plugins() -> None:
    """Inspect installed plugin distributions (entry points)."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(as_json: bool) -> None:
    """List every claimed name from metadata alone (nothing is imported)."""
    from diffusekit import registry

    rows = registry.list_entries()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_dict()))
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


@plugins.command("check")
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
        click.echo(f"{target}: {status} ({len(result.checked)} entry points)")
        for problem in result.problems:
            click.echo(f"  {problem}")
        return 0 if result.ok else 1
    library, _, class_name = target.rpartition(".")
    if not library:
        click.echo(f"{target}: FAILED (not an installed distribution nor a <library>.<Class> name)")
        return 1
    try:
        cls = registry.resolve(library, class_name)
    except PluginError as exc:
        click.echo(f"{target}: FAILED\n  {exc}")
        return 1
    click.echo(f"{target}: ok ({cls.__module__}.{cls.__qualname__})")
    return 0


@plugins.command("why")
@click.argument("name")
def why_command(name: str) -> None:
    """Show every claimant of NAME, which one wins, and why."""
    from diffusekit import registry

    explanation = registry.explain(name)
    if not explanation.claims:
        click.echo(f"{name}: {explanation.reason}")
        raise SystemExit(1)
    click.echo(f"{name}:")
    for claim in explanation.claims:
        click.echo(f"  {claim.distribution} {claim.version} -> {claim.target} [{claim.status}]")
    if explanation.winner is None:
        click.echo(f"no winner: {explanation.reason}")
        raise SystemExit(1)
    click.echo(f"winner: {explanation.winner} ({explanation.reason})")
