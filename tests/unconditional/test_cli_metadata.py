"""Provenance and reproduction on real unconditional pipelines (plugin schedulers and UNets).

A batch drawn by `generate` is re-drawn whole by `generate --from` (same seeds, same recorded
scheduler config), so each image comes back bit for bit on the same machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from diffusekit.cli import main
from diffusekit.cli._png_metadata import parse_parameters

from . import _builders


def generate(*args):
    return CliRunner().invoke(main, ["generate", *map(str, args), "--no-progress"])


def chunks(path) -> tuple[str, dict]:
    text = PIL.Image.open(path).text
    return text["parameters"], json.loads(text["diffusekit"])


def pixels(path) -> np.ndarray:
    return np.asarray(PIL.Image.open(path))


@pytest.fixture(scope="module")
def ddim_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddim")
    _builders.ddim().save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    "scheduler, sampler", [(None, "DDIM"), ("dpm++2m-karras", "DPM++ 2M Karras")]
)
def test_a_batch_image_is_reproduced_bit_for_bit(ddim_ckpt, tmp_path, scheduler, sampler):
    swap = [] if scheduler is None else ["--scheduler", scheduler]
    out = tmp_path / "batch.png"
    args = [ddim_ckpt, "--seed", 5, "--num-images", 3, "--steps", 4, *swap, "-o", out]
    assert generate(*args).exit_code == 0
    for index in (0, 2):
        original = tmp_path / f"batch-{index}.png"
        again = tmp_path / f"again-{index}.png"
        result = generate("--from", original, "-o", again)
        assert result.exit_code == 0, result.output
        assert np.array_equal(pixels(again), pixels(original))
        assert chunks(again) == chunks(original)
    text, record = chunks(tmp_path / "batch-2.png")
    settings = parse_parameters(text).settings
    assert settings["Sampler"] == sampler and settings["Steps"] == "4"
    assert settings["Seed"] == "7" and settings["Size"] == "8x8"
    assert record["batch_seeds"] == [5, 6, 7] and record["batch_index"] == 2


def test_the_record_names_each_component_and_its_distribution(ddim_ckpt, tmp_path):
    from importlib import metadata

    out = tmp_path / "p.png"
    assert generate(ddim_ckpt, "--seed", 1, "--steps", 2, "-o", out).exit_code == 0
    _, record = chunks(out)
    components = record["components"]
    assert components["pipeline"] == {
        "class": "diffusers.DDIMPipeline",
        "target": "diffusekit_unconditional.ddim:DDIMPipeline",
        "distribution": "diffusekit-unconditional",
        "version": metadata.version("diffusekit-unconditional"),
    }
    assert components["unet"]["class"] == "diffusers.UNet2DModel"
    assert components["unet"]["distribution"] == "diffusekit-models"
    assert components["scheduler"]["distribution"] == "diffusekit-schedulers"
    assert record["scheduler_class"] == "diffusers.DDIMScheduler"
    saved = json.loads((ddim_ckpt / "scheduler" / "scheduler_config.json").read_text())
    assert {k: v for k, v in saved.items() if not k.startswith("_")}.items() <= (
        record["scheduler_config"].items()
    )


def test_safe_mode_refuses_the_real_plugins_with_what_to_do(ddim_ckpt, tmp_path):
    code = "import sys; from diffusekit.cli import main; main(sys.argv[1:])"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIFFUSEKIT_")}
    environ["DIFFUSEKIT_CONFIG_DIR"] = str(tmp_path / "config")
    out = subprocess.run(
        [sys.executable, "-c", code, "--no-plugins", "generate", str(ddim_ckpt), "--no-progress"],
        capture_output=True,
        text=True,
        env=environ,
    )
    assert out.returncode == 1
    line = out.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, out.stderr
    assert "diffusekit-unconditional" in line and "--no-plugins" in line
    allowed = [
        *("--no-plugins", "--plugin", "diffusekit-unconditional"),
        *("--plugin", "diffusekit-models", "--plugin", "diffusekit-schedulers"),
    ]
    run = ["generate", str(ddim_ckpt), "--steps", "2", "--seed", "1", "--format", "quiet"]
    out = subprocess.run(
        [sys.executable, "-c", code, *allowed, *run, "-o", str(tmp_path / "safe.png")],
        capture_output=True,
        text=True,
        env=environ,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "safe.png")
