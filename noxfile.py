"""Development sessions: tests, the core alone, each plugin alone, lint, benchmarks."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints" / "dev.txt"))
PLUGINS = ("schedulers", "models", "transformers", "unconditional", "stable-diffusion")
# scikit-learn: the digits classifier of the default-model quality test (tests/unconditional);
# below 1.11, which drops SVC(probability=True).
TEST_TOOLS = ("pytest>=8", "pytest-xdist>=3", "psutil>=5.9", "scikit-learn>=1.3,<1.11")
REFERENCE = ("diffusers", "transformers", "scipy")

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


# Sibling plugins a plugin depends on: they are not on PyPI, so they install from this repo.
PLUGIN_REQUIRES = {
    "unconditional": ("schedulers", "models"),
    "stable-diffusion": ("schedulers", "models", "transformers"),
}


def with_requirements(plugins: tuple[str, ...]) -> list[str]:
    ordered: list[str] = []
    for plugin in plugins:
        for name in (*PLUGIN_REQUIRES.get(plugin, ()), plugin):
            if name not in ordered:
                ordered.append(name)
    return ordered


def install_project(session: nox.Session, *plugins: str) -> None:
    editable = ["-e", "."]
    for plugin in with_requirements(plugins):
        editable += ["-e", f"plugins/{plugin}"]
    session.install(*CONSTRAINTS, *editable)


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole suite: core, every plugin, and parity with the reference."""
    install_project(session, *PLUGINS)
    session.install(*CONSTRAINTS, *TEST_TOOLS, *REFERENCE)
    session.run("pytest", *(session.posargs or ["-q", "-n", "auto"]))


@nox.session(python="3.11")
def core(session: nox.Session) -> None:
    """The core installed alone, with no plugin beside it."""
    install_project(session)
    session.install(*CONSTRAINTS, *TEST_TOOLS)
    session.run("pytest", "tests/core", "-q", *session.posargs)


@nox.session(python="3.11", name="plugin")
@nox.parametrize("plugin", PLUGINS)
def plugin_alone(session: nox.Session, plugin: str) -> None:
    """One plugin with the core and the sibling plugins it needs (no reference, nothing else)."""
    install_project(session, plugin)
    session.install(*CONSTRAINTS, *TEST_TOOLS)
    session.run("pytest", f"tests/{plugin.replace('-', '_')}", "-q", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    install_project(session)
    session.install(*CONSTRAINTS, "ruff>=0.6", "mypy>=1.10")
    session.run("ruff", "check", "core", "plugins", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "core", "plugins", "tests", "bench", "noxfile.py")
    session.run("mypy")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Every benchmark, diffusekit against the reference in the same run, then the report.

    Extra arguments go to every script (all take ``--repeat N``); the report step renders
    bench/results/*.json into docs/benchmarks.md and docs/benchmarks.json.
    """
    install_project(session, *PLUGINS)
    session.install(*CONSTRAINTS, "psutil>=5.9", *REFERENCE)
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)
    session.run("python", str(ROOT / "bench" / "report.py"))
