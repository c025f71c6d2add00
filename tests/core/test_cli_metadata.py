"""Generation settings in the PNGs `generate` writes, `inspect IMAGE`, and `generate --from`."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from diffusekit.cli import main
from diffusekit.cli._png_metadata import (
    Parameters,
    format_parameters,
    parse_parameters,
    sampler_name,
)

from ._cli_toys import CALLS


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def generate(*args):
    return invoke("generate", *args, "--no-progress")


def chunks(path) -> tuple[str, dict]:
    text = PIL.Image.open(path).text
    return text["parameters"], json.loads(text["diffusekit"])


def pixels(path) -> np.ndarray:
    return np.asarray(PIL.Image.open(path).convert("RGB"))


# ------------------------------------------------------------------- the parameters format


@pytest.mark.parametrize(
    "parameters",
    [
        Parameters("a cat", "blurry", {"Steps": "20", "Sampler": "Euler a", "Seed": "1"}),
        Parameters("", None, {"Steps": "5", "Seed": "0", "Size": "8x8", "Model": "m"}),
        Parameters(
            "two\nlines, with commas: and colons",
            'neg, with "quotes"\nand a second line',
            {"Steps": "3", "Model": 'org/name, "odd": one', "Seed": "9", "Size": "16x8"},
        ),
    ],
)
def test_parameters_text_round_trips(parameters):
    text = format_parameters(parameters)
    assert parse_parameters(text) == parameters


def test_parameters_are_written_as_automatic1111_does():
    text = format_parameters(
        Parameters(
            "a cat",
            "blurry",
            {"Steps": "20", "Sampler": "DPM++ 2M Karras", "CFG scale": "7.5", "Seed": "42"},
        )
    )
    assert text == (
        "a cat\nNegative prompt: blurry\n"
        "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42"
    )
    assert format_parameters(Parameters("x", None, {"Model": "a, b"})).endswith('Model: "a, b"')


def test_an_automatic1111_text_parses():
    text = (
        "masterpiece, a castle\nNegative prompt: lowres\n"
        "Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x768, "
        'Model hash: 6ce0161689, Model: v1-5, Lora hashes: "a: 1, b: 2", Version: v1.9.4'
    )
    parsed = parse_parameters(text)
    assert parsed.prompt == "masterpiece, a castle" and parsed.negative_prompt == "lowres"
    assert parsed.settings["Lora hashes"] == "a: 1, b: 2"
    assert parsed.settings["Size"] == "512x768" and parsed.settings["Version"] == "v1.9.4"
    assert parse_parameters("style: watercolor").prompt == "style: watercolor"


@pytest.mark.parametrize(
    "cls, config, name",
    [
        ("EulerDiscreteScheduler", {}, "Euler"),
        ("EulerAncestralDiscreteScheduler", {}, "Euler a"),
        ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}, "DPM++ 2M"),
        (
            "DPMSolverMultistepScheduler",
            {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
            "DPM++ 2M Karras",
        ),
        ("KDPM2AncestralDiscreteScheduler", {}, "DPM2 a"),
        ("PNDMScheduler", {}, "PLMS"),
        ("LMSDiscreteScheduler", {"use_karras_sigmas": True}, "LMS Karras"),
        ("ToyScheduler", {"use_karras_sigmas": True}, "ToyScheduler"),
    ],
)
def test_sampler_names(cls, config, name):
    assert sampler_name(cls, config) == name


# ------------------------------------------------------------------------ written images


def test_a_generated_png_carries_both_chunks(text_ckpt, tmp_path):
    out = tmp_path / "t.png"
    result = generate(
        text_ckpt,
        *("--prompt", "a cat, on a mat", "--negative-prompt", "blurry", "--steps", 6),
        *("--guidance", 3.5, "--width", 24, "--height", 16, "--seed", 5, "-o", out),
    )
    assert result.exit_code == 0, result.output
    text, record = chunks(out)
    parsed = parse_parameters(text)
    assert parsed.prompt == "a cat, on a mat" and parsed.negative_prompt == "blurry"
    assert parsed.settings["Steps"] == "6" and parsed.settings["CFG scale"] == "3.5"
    assert parsed.settings["Seed"] == "5" and parsed.settings["Size"] == "24x16"
    assert parsed.settings["Sampler"] == "ToyScheduler"
    assert parsed.settings["Model"] == "text-ckpt"
    assert record["seed"] == 5 and record["batch_seeds"] == [5]
    assert record["call"] == {
        "prompt": "a cat, on a mat",
        "negative_prompt": "blurry",
        "num_inference_steps": 6,
        "guidance_scale": 3.5,
        "width": 24,
        "height": 16,
    }
    assert record["checkpoint"] == str(text_ckpt) and record["dtype"] == "fp32"
    assert record["device"] == "cpu" and record["scheduler_class"] == "diffusers.ToyScheduler"
    assert record["scheduler_config"]["shrink"] == 0.3
    assert record["components"]["pipeline"]["class"] == "diffusers.ToyTextPipeline"
    assert record["components"]["unet"]["target"].endswith("_cli_toys:ToyNet")
    assert record["diffusekit_version"] and record["torch"]


def test_defaults_that_were_not_given_are_still_in_the_parameters(image_ckpt, tmp_path):
    out = tmp_path / "d.png"
    assert generate(image_ckpt, "--seed", 3, "-o", out).exit_code == 0
    parsed = parse_parameters(chunks(out)[0])
    assert parsed.prompt == "" and parsed.negative_prompt is None
    assert parsed.settings["Steps"] == "4"  # ToyImagePipeline's default
    assert "CFG scale" not in parsed.settings  # it takes no guidance


def test_inspect_an_image_prints_its_parameters(text_ckpt, tmp_path):
    out = tmp_path / "i.png"
    generate(text_ckpt, "--prompt", "a cat", "--seed", 8, "--steps", 2, "-o", out)
    human = invoke("inspect", out)
    assert human.exit_code == 0, human.output
    assert "prompt: a cat" in human.output and "Seed: 8" in human.output
    assert "scheduler: diffusers.ToyScheduler" in human.output
    data = json.loads(invoke("inspect", out, "--format", "json").output)
    assert data["parameters"]["settings"]["Steps"] == "2"
    assert data["record"]["seed"] == 8


def test_inspect_an_image_without_settings(tmp_path, cli_toys):
    PIL.Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    result = invoke("inspect", tmp_path / "plain.png")
    assert result.exit_code == 1 and "no generation settings" in result.stderr


# ------------------------------------------------------------------------------- --from


def test_from_reproduces_an_image_bit_for_bit(image_ckpt, tmp_path):
    grid = tmp_path / "batch.png"
    result = generate(
        image_ckpt, "--seed", 20, "--num-images", 3, "--scheduler", "euler-karras", "-o", grid
    )
    assert result.exit_code == 0, result.output
    original = tmp_path / "batch-1.png"
    again = tmp_path / "again.png"
    result = generate("--from", original, "-o", again)
    assert result.exit_code == 0, result.output
    assert "seed: 21" in result.stdout
    assert np.array_equal(pixels(again), pixels(original))
    assert CALLS[-1]["scheduler"] == "ToyEulerScheduler"
    assert CALLS[-1]["scheduler_config"]["use_karras_sigmas"] is True
    assert [g.initial_seed() for g in CALLS[-1]["generator"]] == [20, 21, 22]
    _, old = chunks(original)
    _, new = chunks(again)
    assert new == old
    assert sorted(p.name for p in tmp_path.glob("again*")) == ["again.png"]


def test_a_relative_folder_is_recorded_absolute(image_ckpt, tmp_path, monkeypatch):
    monkeypatch.chdir(image_ckpt.parent)
    assert generate(image_ckpt.name, "--seed", 1, "-o", tmp_path / "rel.png").exit_code == 0
    assert chunks(tmp_path / "rel.png")[1]["checkpoint"] == str(image_ckpt)
    monkeypatch.chdir(tmp_path / "..")
    result = generate("--from", tmp_path / "rel.png", "-o", tmp_path / "rel-again.png")
    assert result.exit_code == 0, result.output
    assert np.array_equal(pixels(tmp_path / "rel-again.png"), pixels(tmp_path / "rel.png"))


def test_from_with_an_option_given_replaces_the_recorded_value(text_ckpt, tmp_path):
    first = tmp_path / "first.png"
    generate(text_ckpt, "--prompt", "a cat", "--steps", 2, "--seed", 4, "-o", first)
    result = generate("--from", first, "--steps", 5, "-o", tmp_path / "second.png")
    assert result.exit_code == 0, result.output
    assert CALLS[-1]["prompt"] == "a cat" and CALLS[-1]["num_inference_steps"] == 5
    assert CALLS[-1]["generator"].initial_seed() == 4


def edit_record(path, target, change) -> None:
    from PIL.PngImagePlugin import PngInfo

    image = PIL.Image.open(path)
    record = json.loads(image.text["diffusekit"])
    change(record)
    info = PngInfo()
    info.add_text("diffusekit", json.dumps(record))
    image.save(target, pnginfo=info)


@pytest.mark.parametrize(
    "row, install",
    [
        (
            {
                "class": "diffusers.ToyGoneNet",
                "distribution": "diffusekit-toy-gone",
                "version": "1",
            },
            "pip install diffusekit-toy-gone==1",
        ),
        (
            {
                "class": "gonelib.GoneModel",
                "distribution": "gonelib",
                "version": "5.0",
                "via": {"distribution": "diffusekit-gonelib", "version": "0.2"},
            },
            "pip install diffusekit-gonelib==0.2",
        ),
    ],
)
def test_from_names_the_missing_plugin_and_its_install(image_ckpt, tmp_path, row, install):
    out = tmp_path / "m.png"
    generate(image_ckpt, "--seed", 1, "-o", out)
    edit_record(out, tmp_path / "edited.png", lambda r: r["components"]["unet"].update(row))
    result = generate("--from", tmp_path / "edited.png")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line
    assert row["class"] in line and install in line
    assert CALLS[-1]["generator"].initial_seed() == 1, "nothing ran for the edited image"


def test_from_an_image_made_on_a_missing_device_falls_back_with_a_note(
    image_ckpt, tmp_path, monkeypatch
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu.png"
    generate(image_ckpt, "--seed", 6, "--device", "cpu", "-o", out)
    edit_record(out, tmp_path / "edited.png", lambda r: r.update(device="cuda:0"))
    result = generate("--from", tmp_path / "edited.png", "-o", tmp_path / "cpu.png")
    assert result.exit_code == 0, result.output
    assert "made on cuda" in result.stderr and "using cpu" in result.stderr
    assert np.array_equal(pixels(tmp_path / "cpu.png"), pixels(out))


def test_from_an_image_without_a_record(tmp_path, cli_toys):
    PIL.Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    result = generate("--from", tmp_path / "plain.png")
    assert result.exit_code == 1 and "only PNGs written by `diffusekit generate`" in result.stderr
