"""Which plugin distributions may load: safe mode (DIFFUSEKIT_LOAD_PLUGINS, --no-plugins,
--plugin), the persistent disabled list (plugins disable/enable) and the requirements list.

Safe mode is checked in fresh processes with fake distributions whose modules write a marker
file when imported, so "not loaded" means "not imported", entry-point and hook modules alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from diffusekit import registry
from diffusekit.cli import main
from diffusekit.errors import PluginBlockedError, PluginError
from diffusekit.testing import write_fake_distribution

COMPONENTS = "diffusekit.components"
PLUGINS = "diffusekit.plugins"


def marker_module(tag: str, body: str = "") -> str:
    return (
        "import os, pathlib\n"
        f"pathlib.Path(os.environ['MARKERS'], {tag!r}).write_text('imported')\n"
        f"{body}"
    )


def component(name: str) -> str:
    return f"class {name}:\n    pass\n"


def write_plugins(site: Path) -> None:
    """dist-a and dist-b each provide a component and a hook module."""
    for letter in ("a", "b"):
        write_fake_distribution(
            site,
            f"dist-{letter}",
            entry_points={
                COMPONENTS: {f"toylib.{letter.upper()}": f"dist_{letter}.comp:{letter.upper()}"},
                PLUGINS: {f"hooks-{letter}": f"dist_{letter}.hooks"},
            },
            modules={
                f"dist_{letter}/__init__.py": "",
                f"dist_{letter}/comp.py": marker_module(
                    f"comp-{letter}", component(letter.upper())
                ),
                f"dist_{letter}/hooks.py": marker_module(f"hooks-{letter}"),
            },
        )


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    write_plugins(folder)
    (tmp_path / "markers").mkdir()
    (tmp_path / "config").mkdir()
    return folder


PROBE = """
import json, sys
from diffusekit import registry, _hook_manager
from diffusekit.errors import PluginBlockedError, PluginError
_hook_manager.plugin_manager()
result = {}
for name in ("A", "B"):
    try:
        result[name] = registry.resolve("toylib", name).__name__
    except PluginBlockedError as exc:
        result[name] = "blocked: " + str(exc)
print(json.dumps(result))
"""


def run(site: Path, code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DIFFUSEKIT_") or k == "DIFFUSEKIT_CONFIG_DIR"
    }
    environ.update(
        PYTHONPATH=os.pathsep.join([str(site), *sys.path]),
        MARKERS=str(site.parent / "markers"),
        DIFFUSEKIT_CONFIG_DIR=str(site.parent / "config"),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=environ
    )


def imported(site: Path) -> set[str]:
    return {p.name for p in (site.parent / "markers").iterdir()}


def test_without_selection_both_plugins_load(site):
    out = run(site, PROBE)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"A": "A", "B": "B"}
    assert imported(site) == {"comp-a", "comp-b", "hooks-a", "hooks-b"}


def test_allow_list_loads_only_the_named_distribution(site):
    out = run(site, PROBE, DIFFUSEKIT_LOAD_PLUGINS="Dist_A")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["A"] == "A"
    assert result["B"].startswith("blocked:") and "DIFFUSEKIT_LOAD_PLUGINS" in result["B"]
    assert imported(site) == {"comp-a", "hooks-a"}


def test_empty_allow_list_loads_nothing(site):
    out = run(site, PROBE, DIFFUSEKIT_LOAD_PLUGINS="")
    assert out.returncode == 0, out.stderr
    assert all(v.startswith("blocked:") for v in json.loads(out.stdout).values())
    assert imported(site) == set()


CLI = "import sys; from diffusekit.cli import main; main(sys.argv[1:])"


@pytest.mark.parametrize(
    "flags, loaded",
    [((), {"a", "b"}), (("--no-plugins",), set()), (("--no-plugins", "--plugin", "dist-b"), {"b"})],
)
def test_no_plugins_flag_in_a_fresh_process(site, flags, loaded):
    for name in ("toylib.A", "toylib.B"):
        out = run(site, CLI, *flags, "plugins", "check", name)
        assert out.returncode == (0 if name[-1].lower() in loaded else 1), out.stderr
    assert imported(site) == {f"{kind}-{tag}" for tag in loaded for kind in ("comp", "hooks")}
    out = run(site, CLI, *flags, "plugins", "list", "--format", "json")
    statuses = {
        row["distribution"]: row["status"]
        for row in map(json.loads, out.stdout.splitlines())
        if row["name"].startswith("toylib.")
    }
    allowed = {f"dist-{tag}" for tag in loaded}
    assert statuses == {d: "ok" if d in allowed else "blocked" for d in ("dist-a", "dist-b")}


# ------------------------------------------------------------------- persistent disabling


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "user-config"
    monkeypatch.setenv("DIFFUSEKIT_CONFIG_DIR", str(folder))
    return folder


def test_disable_and_enable_persist_in_the_config_file(fake_distribution, config_dir):
    fake_distribution(
        "cli-toggle",
        version="2.0",
        entry_points={COMPONENTS: {"toylib.Toggle": "cli_toggle:Toggle"}},
        modules={"cli_toggle.py": component("Toggle")},
    )
    result = CliRunner().invoke(main, ["plugins", "disable", "CLI_Toggle"])
    assert result.exit_code == 0, result.output
    assert json.loads((config_dir / "plugins.json").read_text()) == {"disabled": ["cli-toggle"]}
    registry.refresh()
    with pytest.raises(PluginBlockedError, match="diffusekit plugins enable cli-toggle"):
        registry.resolve("toylib", "Toggle")
    assert "cli_toggle" not in sys.modules
    listed = CliRunner().invoke(main, ["plugins", "list", "--requirements"]).output
    assert "cli-toggle==2.0  # disabled" in listed.splitlines()

    result = CliRunner().invoke(main, ["plugins", "enable", "cli-toggle", "--format", "json"])
    assert json.loads(result.output) | {"enabled": True, "installed": True} == json.loads(
        result.output
    )
    assert json.loads((config_dir / "plugins.json").read_text()) == {"disabled": []}
    assert registry.resolve("toylib", "Toggle").__name__ == "Toggle"


def test_enable_says_when_the_environment_still_blocks(fake_distribution, config_dir, monkeypatch):
    fake_distribution("cli-env", entry_points={COMPONENTS: {"toylib.E": "cli_env:E"}})
    monkeypatch.setenv("DIFFUSEKIT_DISABLE_PLUGINS", "cli-env")
    result = CliRunner().invoke(main, ["plugins", "enable", "cli-env"])
    assert result.exit_code == 0
    assert "still blocked" in result.output and "DIFFUSEKIT_DISABLE_PLUGINS" in result.output


def test_disabling_an_unknown_distribution_notes_it(diffusekit_registry, config_dir):
    result = CliRunner().invoke(main, ["plugins", "disable", "not-installed-here"])
    assert result.exit_code == 0 and "not installed" in result.output


def test_a_corrupt_config_file_is_named(diffusekit_registry, config_dir):
    config_dir.mkdir()
    (config_dir / "plugins.json").write_text('{"disabled": "everything"}')
    with pytest.raises(PluginError, match=r"plugins\.json"):
        registry.refresh()
        registry.discovery()


def test_requirements_pin_each_installed_plugin(fake_distribution, config_dir):
    fake_distribution("cli-req", version="3.1", entry_points={COMPONENTS: {"toylib.R": "r:R"}})
    lines = CliRunner().invoke(main, ["plugins", "list", "--requirements"]).output.splitlines()
    assert "cli-req==3.1" in lines
    assert lines[0].startswith(("diffusekit==", "-e "))
    rows = CliRunner().invoke(main, ["plugins", "list", "--requirements", "--format", "json"])
    parsed = [json.loads(line) for line in rows.output.splitlines()]
    assert {"distribution": "cli-req", "version": "3.1", "requirement": "cli-req==3.1"}.items() <= (
        next(r for r in parsed if r["distribution"] == "cli-req").items()
    )


# ------------------------------------------------------------------------------ providers


def test_provider_of_names_the_distribution_that_declares_a_class(fake_distribution):
    from importlib import metadata

    import torch

    fake_distribution(
        "prov-dist",
        version="1.5",
        entry_points={COMPONENTS: {"toylib.Prov": "prov_dist.inner:Prov"}},
        modules={"prov_dist/__init__.py": "", "prov_dist/inner.py": component("Prov")},
    )
    cls = registry.resolve("toylib", "Prov")
    assert registry.provider_of(cls) == ("prov-dist", "1.5")
    assert registry.provider_of(torch.nn.Linear) == ("torch", metadata.version("torch"))
    orphan = type("Orphan", (), {"__module__": "no_such_package_anywhere.mod"})
    assert registry.provider_of(orphan) is None
