"""`diffusekit generate` / `inspect` on real unconditional pipelines: the CLI must give exactly
what the library gives for the same seeds."""

from __future__ import annotations

import json
import wave

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from diffusekit import registry
from diffusekit.cli import main
from diffusekit.cli._schedulers import ALIASES

from . import _builders

SEED = 11


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def generate(*args):
    return invoke("generate", *args, "--no-progress")


def pixels(path) -> np.ndarray:
    return np.asarray(PIL.Image.open(path))


def direct(pipe, seeds, **kwargs) -> list[np.ndarray]:
    """What the library gives for those seeds (one generator per image)."""
    _builders.quiet(pipe)
    gens = _builders.generators(*seeds)
    images = pipe(batch_size=len(seeds), generator=gens if len(gens) > 1 else gens[0], **kwargs)
    return [np.asarray(image) for image in images.images]


@pytest.fixture(scope="module")
def ddpm_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddpm")
    _builders.ddpm().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def ddim_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddim")
    _builders.ddim().save_pretrained(folder)
    return folder


@pytest.mark.parametrize("name", ["ddpm", "ddim"])
def test_generate_equals_the_library_call(name, ddpm_ckpt, ddim_ckpt, tmp_path):
    ckpt = {"ddpm": ddpm_ckpt, "ddim": ddim_ckpt}[name]
    out = tmp_path / "x.png"
    result = generate(ckpt, "--steps", 3, "--seed", SEED, "--num-images", 2, "-o", out)
    assert result.exit_code == 0, result.output
    expected = direct(getattr(_builders, name)(), [SEED, SEED + 1], num_inference_steps=3)
    assert np.array_equal(pixels(tmp_path / "x-0.png"), expected[0])
    assert np.array_equal(pixels(tmp_path / "x-1.png"), expected[1])
    assert (tmp_path / "x-grid.png").is_file()


def test_scheduler_alias_swaps_to_the_real_class(ddim_ckpt, tmp_path):
    from diffusekit_schedulers import DPMSolverMultistepScheduler

    out = tmp_path / "dpm.png"
    options = ("--scheduler", "dpm++2m-karras", "--steps", 4, "--seed", 3, "-o", out)
    result = generate(ddim_ckpt, *options)
    assert result.exit_code == 0, result.output
    pipe = _builders.ddim()
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(
        pipe.scheduler.config, algorithm_type="dpmsolver++", use_karras_sigmas=True
    )
    assert np.array_equal(pixels(out), direct(pipe, [3], num_inference_steps=4)[0])


def test_every_alias_names_an_installed_scheduler_and_swaps_into_ddim():
    from diffusekit.cli._schedulers import swap

    compatible = set(_builders.ddim().scheduler.compatibles)
    swapped = []
    for name, alias in ALIASES.items():
        cls = registry.resolve("diffusers", alias.class_name)
        if cls in compatible:
            scheduler = swap(_builders.ddim(), name)
            assert type(scheduler) is cls
            for key, value in alias.overrides.items():
                assert scheduler.config[key] == value
            swapped.append(name)
    assert {"euler", "euler-a", "dpm++2m", "dpm++2m-sde", "unipc", "deis", "ddpm"} <= set(swapped)


def test_prompt_to_an_unconditional_pipeline_is_a_usage_error(ddpm_ckpt):
    result = generate(ddpm_ckpt, "--prompt", "a cat")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("error: DDPMPipeline does not take --prompt (its __call__ takes: ")
    assert "batch_size" in line and "\n" not in line


def test_dance_diffusion_writes_wav(tmp_path):
    folder = tmp_path / "dance"
    _builders.dance().save_pretrained(folder)
    result = generate(folder, "--steps", 2, "--seed", 5, "-o", tmp_path / "clip.png")
    assert result.exit_code == 0, result.output
    pipe = _builders.quiet(_builders.dance())
    audio = pipe(num_inference_steps=2, generator=torch.Generator().manual_seed(5)).audios[0]
    with wave.open(str(tmp_path / "clip.wav")) as reader:
        assert reader.getframerate() == 16_000 and reader.getnchannels() == 2
        frames = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    expected = np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16).T.reshape(-1)
    assert np.array_equal(frames, expected)


def test_inspect_names_the_real_plugins_and_loads(ddim_ckpt):
    result = invoke("inspect", ddim_ckpt, "--check", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pipeline_provider"]["distribution"] == "diffusekit-unconditional"
    providers = {c["name"]: c["provider"]["distribution"] for c in report["components"]}
    assert providers == {"unet": "diffusekit-models", "scheduler": "diffusekit-schedulers"}
    unet = next(c for c in report["components"] if c["name"] == "unet")
    expected = sum(p.numel() for p in _builders.ddim().unet.parameters())
    assert unet["parameters"] == expected and unet["formats"] == ["safetensors"]
    assert report["check"].startswith("OK")
