"""`generate` on a tiny Stable Diffusion checkpoint: prompts in the A1111 text, provenance of
the text encoder served by the transformers plugin, prompts files and `--from`."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner
from diffusekit_stable_diffusion import tiny

from diffusekit.cli import main
from diffusekit.cli._png_metadata import parse_parameters

from . import _pipelines


def generate(*args):
    return CliRunner().invoke(main, ["generate", *map(str, args), "--no-progress"])


def chunks(path) -> tuple[str, dict]:
    text = PIL.Image.open(path).text
    return text["parameters"], json.loads(text["diffusekit"])


def pixels(path) -> np.ndarray:
    return np.asarray(PIL.Image.open(path))


one_thread = pytest.fixture(scope="module", autouse=True)(_pipelines.one_thread)


@pytest.fixture(scope="module")
def sd_ckpt(tmp_path_factory):
    return tiny.save_tiny_checkpoint(tmp_path_factory.mktemp("tiny-sd"))


def test_prompt_and_settings_in_the_parameters_text(sd_ckpt, tmp_path):
    out = tmp_path / "cat.png"
    result = generate(
        sd_ckpt,
        *("--prompt", "a cat, sitting", "--negative-prompt", "blurry", "--steps", 2),
        *("--guidance", 6, "--scheduler", "euler-a", "--seed", 3, "-o", out),
    )
    assert result.exit_code == 0, result.output
    text, record = chunks(out)
    parsed = parse_parameters(text)
    assert (parsed.prompt, parsed.negative_prompt) == ("a cat, sitting", "blurry")
    assert parsed.settings["Sampler"] == "Euler a" and parsed.settings["CFG scale"] == "6.0"
    assert parsed.settings["Steps"] == "2" and parsed.settings["Seed"] == "3"
    assert parsed.settings["Size"] == "16x16"
    encoder = record["components"]["text_encoder"]
    assert encoder["class"] == "transformers.CLIPTextModel"
    assert encoder["distribution"] == "transformers"
    assert encoder["via"]["distribution"] == "diffusekit-transformers"
    assert record["components"]["unet"]["distribution"] == "diffusekit-models"
    assert record["components"]["safety_checker"] is None


def test_prompts_file_then_from_reproduces_each_line(sd_ckpt, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text('a red fox\na blue bird --seed 40 --negative-prompt "dark, noisy"\n')
    template = tmp_path / "{index}-{prompt_slug}-{seed}.png"
    result = generate(sd_ckpt, "--prompts-file", prompts, "--steps", 2, "--seed", 9, "-o", template)
    assert result.exit_code == 0, result.output
    fox, bird = tmp_path / "0-a-red-fox-9.png", tmp_path / "1-a-blue-bird-40.png"
    assert parse_parameters(chunks(bird)[0]).negative_prompt == "dark, noisy"
    for original in (fox, bird):
        again = tmp_path / f"again-{original.name}"
        assert generate("--from", original, "-o", again).exit_code == 0
        assert np.array_equal(pixels(again), pixels(original))
    assert not np.array_equal(pixels(fox), pixels(bird))
