"""`generate --prompts-file`, name templates, never overwriting, and `--format` everywhere."""

from __future__ import annotations

import json

import PIL.Image
import pytest
from click.testing import CliRunner

from diffusekit.cli import main
from diffusekit.cli._call_options import Requested
from diffusekit.cli._errors import OptionError
from diffusekit.cli._prompts_file import parse_line, read

from ._cli_toys import CALLS


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def record(path) -> dict:
    return json.loads(PIL.Image.open(path).text["diffusekit"])


PROMPTS = """\
# a comment, then a blank line

a red fox
a lighthouse, at dusk --seed 7 --negative-prompt "blurry, dark" --num-images 2
--prompt "--dashes first" --steps 3 --width 16
"""


# ---------------------------------------------------------------------------- the file


def test_lines_parse_into_options():
    assert parse_line("a cat's hat", "f:1") == {"prompt": "a cat's hat"}
    assert parse_line('a cat --seed 3 --negative-prompt "x, y"', "f:1") == {
        "prompt": "a cat",
        "seed": 3,
        "negative_prompt": "x, y",
    }
    with pytest.raises(OptionError, match=r"f:4: .*--steps"):
        parse_line("a cat --steps zero", "f:4")
    with pytest.raises(OptionError, match=r"f:5: .*--colour"):
        parse_line("a cat --colour red", "f:5")
    with pytest.raises(OptionError, match="also gives --prompt"):
        parse_line("a cat --prompt dog", "f:6")


def test_seeds_continue_from_the_command_line_seed(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text(PROMPTS)
    tasks = read(path, Requested(steps=9), seed=100)
    assert [t.line for t in tasks] == [3, 4, 5]
    assert [t.seed for t in tasks] == [100, 7, 103]
    assert tasks[1].requested.negative_prompt == "blurry, dark"
    assert tasks[1].requested.num_images == 2 and tasks[1].requested.steps == 9
    assert tasks[2].requested.prompt == "--dashes first" and tasks[2].requested.steps == 3
    assert [t.seed for t in read(path, Requested(), seed=None)] == [None, 7, None]


def test_a_prompts_file_yields_the_right_files_and_seeds(text_ckpt, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text(PROMPTS)
    out = tmp_path / "out" / "{index:02d}-{seed}-{prompt_slug}.png"
    result = invoke(
        "generate", text_ckpt, "--prompts-file", path, "--seed", 50, "-o", out, "--no-progress"
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "00-50-a-red-fox.png",
        "01-7-a-lighthouse-at-dusk.png",
        "02-8-a-lighthouse-at-dusk.png",
        "03-53-dashes-first.png",
    ]
    calls = CALLS[-3:]
    assert [c["prompt"] for c in calls] == ["a red fox", "a lighthouse, at dusk", "--dashes first"]
    assert [c["negative_prompt"] for c in calls] == [None, "blurry, dark", None]
    assert calls[2]["num_inference_steps"] == 3 and calls[2]["width"] == 16
    seeds = [record(tmp_path / "out" / name)["seed"] for name in names]
    assert seeds == [50, 7, 8, 53]
    assert record(tmp_path / "out" / names[2])["batch_seeds"] == [7, 8]


def test_random_seeds_of_a_prompts_file_are_recorded(text_ckpt, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("one\ntwo\n")
    out = tmp_path / "r-{seed}.png"
    result = invoke("generate", text_ckpt, "--prompts-file", path, "-o", out, "--format", "json")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    images = [e for e in events if e["event"] == "image"]
    assert [e["line"] for e in images] == [1, 2]
    for event in images:
        assert record(event["path"])["seed"] == event["seed"]
        assert event["path"].endswith(f"r-{event['seed']}.png")
    assert CALLS[-1]["generator"].initial_seed() == images[1]["seed"]


def test_a_bad_line_is_a_usage_error_naming_the_line_before_loading(text_ckpt, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("fine\nbad --steps 0\n")
    result = invoke("generate", text_ckpt, "--prompts-file", path, "--no-progress")
    assert result.exit_code == 2 and f"{path}:2:" in result.stderr
    assert CALLS == []


def test_an_option_the_pipeline_lacks_on_a_line_names_the_line(image_ckpt, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("--seed 1\n--seed 2 --steps 3\na prompt\n")
    result = invoke("generate", image_ckpt, "--prompts-file", path, "--no-progress")
    assert result.exit_code == 2, result.output
    assert f"{path}:3:" in result.stderr and "does not take --prompt" in result.stderr


# ------------------------------------------------------------------------------ names


def test_no_file_is_ever_overwritten(image_ckpt, tmp_path):
    out = tmp_path / "same.png"
    out.write_bytes(b"precious")
    (tmp_path / "same_1.png").write_bytes(b"also precious")
    for _ in range(2):
        result = invoke("generate", image_ckpt, "--seed", 1, "-o", out, "--no-progress")
        assert result.exit_code == 0, result.output
    assert out.read_bytes() == b"precious"
    assert (tmp_path / "same_1.png").read_bytes() == b"also precious"
    assert PIL.Image.open(tmp_path / "same_2.png").size == (8, 8)
    assert "wrote " + str(tmp_path / "same_3.png") in result.stdout
    many = tmp_path / "many.png"
    (tmp_path / "many-1.png").write_bytes(b"keep")
    (tmp_path / "many-grid.png").write_bytes(b"keep grid")
    result = invoke("generate", image_ckpt, "--num-images", 2, "-o", many, "--no-progress")
    assert result.exit_code == 0
    assert (tmp_path / "many-1.png").read_bytes() == b"keep"
    assert (tmp_path / "many-grid.png").read_bytes() == b"keep grid"
    assert {"many-0.png", "many-1_1.png", "many-grid_1.png"} <= {p.name for p in tmp_path.iterdir()}


def test_a_bad_template_is_a_usage_error(image_ckpt, tmp_path):
    result = invoke("generate", image_ckpt, "-o", tmp_path / "{number}.png", "--no-progress")
    assert result.exit_code == 2 and "unknown field(s) number" in result.stderr
    assert CALLS == []


# ------------------------------------------------------------------------------- formats


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "no output"
    return [json.loads(line) for line in lines]


def test_every_command_has_json_output_that_parses(
    image_ckpt, tmp_path, fake_distribution, monkeypatch
):
    monkeypatch.setenv("DIFFUSEKIT_CONFIG_DIR", str(tmp_path / "config"))
    fake_distribution(
        "fmt-plugin",
        entry_points={"diffusekit.components": {"toylib.F": "fmt_plugin:F"}},
        modules={"fmt_plugin.py": "class F:\n    pass\n"},
    )
    out = tmp_path / "j.png"
    commands = [
        ["generate", image_ckpt, "--seed", 2, "-o", out],
        ["inspect", image_ckpt],
        ["inspect", out],
        ["env"],
        ["plugins", "list"],
        ["plugins", "list", "--requirements"],
        ["plugins", "why", "toylib.F"],
        ["plugins", "check", "fmt-plugin"],
        ["plugins", "check", "toylib.F"],
        ["plugins", "disable", "fmt-plugin"],
        ["plugins", "enable", "fmt-plugin"],
    ]
    for command in commands:
        for placement in ("command", "group"):
            args = [*command, "--format", "json"]
            if placement == "group":
                args = ["--format", "json", *command]
            result = invoke(*args)
            assert result.exit_code == 0, (command, result.output)
            assert "%|" not in result.stderr, "no progress bars in json mode"
            json_lines(result.stdout)
    again = tmp_path / "k.png"
    generated = json_lines(
        invoke("generate", image_ckpt, "--seed", 4, "-o", again, "--format", "json").stdout
    )
    assert [e["event"] for e in generated] == ["seed", "image"] and generated[0]["seed"] == 4


def test_json_errors_are_json_on_stderr(image_ckpt, tmp_path):
    result = invoke("generate", image_ckpt, "--prompt", "x", "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.stderr)
    assert error["exit_code"] == 2 and "does not take --prompt" in error["error"]


def test_quiet_prints_only_the_files(image_ckpt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("generate", image_ckpt, "--num-images", 2, "-o", "q.png", "--format", "quiet")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["q-0.png", "q-1.png", "q-grid.png"]
    assert result.stderr == ""


def test_env_reports_versions_and_plugins(fake_distribution):
    fake_distribution("env-plugin", version="4.2", entry_points={"diffusekit.components": {}})
    fake_distribution("env-other", entry_points={"diffusekit.components": {"toylib.O": "o:O"}})
    data = json.loads(invoke("env", "--format", "json").stdout)
    assert data["python"] and data["torch"]["version"] and data["diffusekit"]
    assert isinstance(data["torch"]["threads"], int) and data["default_device"]
    assert {"distribution": "env-other", "version": "1.0", "enabled": True}.items() <= next(
        p for p in data["plugins"] if p["distribution"] == "env-other"
    ).items()
    human = invoke("env").stdout
    assert "torch: " in human and "env-other: 1.0" in human and "threads: " in human
