"""`diffusekit plugins list | check | why`, with exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from diffusekit.cli import main

COMPONENTS = "diffusekit.components"
GOOD = "class Good:\n    pass\n"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def install_good_and_broken(fake_distribution):
    fake_distribution(
        "cli-good",
        version="1.2",
        entry_points={COMPONENTS: {"toylib.Good": "cli_good:Good"}},
        modules={"cli_good.py": GOOD},
    )
    fake_distribution(
        "cli-broken",
        entry_points={COMPONENTS: {"toylib.Broken": "cli_broken:Broken"}},
        modules={"cli_broken.py": "raise ValueError('kaputt')\n"},
    )


def test_list_reads_metadata_only(fake_distribution):
    import sys

    install_good_and_broken(fake_distribution)
    result = invoke("plugins", "list")
    assert result.exit_code == 0
    assert "toylib.Good" in result.output and "cli-good" in result.output and "1.2" in result.output
    assert "cli_broken" not in sys.modules


def test_list_json_is_one_object_per_line(fake_distribution):
    install_good_and_broken(fake_distribution)
    result = invoke("plugins", "list", "--json")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {"name": "toylib.Good", "distribution": "cli-good", "status": "ok"}.items() <= next(
        r for r in rows if r["name"] == "toylib.Good"
    ).items()


def test_check_fails_on_a_broken_plugin(fake_distribution):
    install_good_and_broken(fake_distribution)
    assert invoke("plugins", "check", "cli-good").exit_code == 0
    result = invoke("plugins", "check", "--all")
    assert result.exit_code == 1
    assert "cli-broken: FAILED" in result.output and "kaputt" in result.output
    assert "cli-good: ok" in result.output


def test_check_by_component_name(fake_distribution):
    install_good_and_broken(fake_distribution)
    assert invoke("plugins", "check", "toylib.Good").exit_code == 0
    missing = invoke("plugins", "check", "diffusers.NotThereModel")
    assert missing.exit_code == 1 and "no installed plugin provides" in missing.output


def test_why_explains_the_winner_and_conflicts(fake_distribution):
    install_good_and_broken(fake_distribution)
    result = invoke("plugins", "why", "toylib.Good")
    assert result.exit_code == 0
    assert "winner: cli-good 1.2 -> cli_good:Good (the only claimant)" in result.output
    fake_distribution(
        "cli-rival",
        entry_points={COMPONENTS: {"toylib.Good": "cli_rival:Good"}},
        modules={"cli_rival.py": GOOD},
    )
    contested = invoke("plugins", "why", "toylib.Good")
    assert contested.exit_code == 1
    assert "cli-rival" in contested.output and "no winner" in contested.output


def test_why_unknown_name_exits_non_zero(diffusekit_registry):
    result = invoke("plugins", "why", "diffusers.UNet2DConditionModelX")
    assert result.exit_code == 1
    assert "no installed distribution claims it" in result.output


def test_assert_plugin_ok(fake_distribution):
    import pytest

    from diffusekit.testing import assert_plugin_ok

    install_good_and_broken(fake_distribution)
    assert assert_plugin_ok("cli-good").checked == [f"{COMPONENTS}:toylib.Good"]
    with pytest.raises(AssertionError, match="kaputt"):
        assert_plugin_ok("cli-broken")
