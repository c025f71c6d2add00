"""`diffusekit generate` on toy checkpoints: options, outputs, seeds, schedulers, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import wave

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from diffusekit import _providers
from diffusekit.cli import main
from diffusekit.errors import MissingComponentError

from ._cli_toys import CALLS, write_checkpoint


def generate(*args, quiet: bool = True):
    extra = ["--no-progress"] if quiet else []
    return CliRunner().invoke(main, ["generate", *map(str, args), *extra])


def pixels(path) -> np.ndarray:
    return np.asarray(PIL.Image.open(path).convert("RGB"), dtype=np.int16)


def settings_of(path) -> dict:
    return json.loads(PIL.Image.open(path).text["diffusekit"])


def assert_one_error_line(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ------------------------------------------------------------------------------- outputs


def test_one_image_is_written_with_its_settings(image_ckpt, tmp_path):
    out = tmp_path / "one.png"
    result = generate(image_ckpt, "--seed", 7, "--steps", 3, "--output", out)
    assert result.exit_code == 0, result.output
    assert "seed: 7" in result.stdout and f"wrote {out}" in result.stdout
    assert PIL.Image.open(out).size == (8, 8)
    assert settings_of(out) | {"seed": 7, "steps": 3, "pipeline": "ToyImagePipeline"} == (
        settings_of(out)
    )
    assert CALLS[-1]["batch_size"] == 1 and isinstance(CALLS[-1]["generator"], torch.Generator)


def test_several_images_are_numbered_with_a_grid_and_each_reproducible_alone(image_ckpt, tmp_path):
    out = tmp_path / "many.png"
    assert generate(image_ckpt, "--seed", 10, "--num-images", 3, "-o", out).exit_code == 0
    names = sorted(p.name for p in tmp_path.glob("many*"))
    assert names == ["many-0.png", "many-1.png", "many-2.png", "many-grid.png"]
    assert CALLS[-1]["batch_size"] == 3 and len(CALLS[-1]["generator"]) == 3
    grid = PIL.Image.open(tmp_path / "many-grid.png")
    assert grid.size == (16, 16)  # 2 x 2 cells, the fourth blank
    assert np.array_equal(np.asarray(grid.convert("RGB"))[8:, 8:], np.zeros((8, 8, 3)))
    for i in range(3):
        assert settings_of(tmp_path / f"many-{i}.png")["seed"] == 10 + i
        alone = tmp_path / f"alone-{i}.png"
        assert generate(image_ckpt, "--seed", 10 + i, "-o", alone).exit_code == 0
        assert np.array_equal(pixels(alone), pixels(tmp_path / f"many-{i}.png"))
    assert not np.array_equal(pixels(tmp_path / "many-0.png"), pixels(tmp_path / "many-1.png"))


def test_a_random_seed_is_printed_recorded_and_reproduces(image_ckpt, tmp_path):
    result = generate(image_ckpt, "-o", tmp_path / "r.png")
    assert result.exit_code == 0
    seed = int(result.stdout.split("seed: ")[1].split()[0])
    assert settings_of(tmp_path / "r.png")["seed"] == seed
    assert generate(image_ckpt, "--seed", seed, "-o", tmp_path / "again.png").exit_code == 0
    assert np.array_equal(pixels(tmp_path / "r.png"), pixels(tmp_path / "again.png"))


def test_default_output_name_in_the_working_directory(image_ckpt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert generate(image_ckpt, "--seed", 1).exit_code == 0
    assert (tmp_path / "diffusekit-output.png").is_file()


def test_output_folder_is_created(image_ckpt, tmp_path):
    out = tmp_path / "new" / "dir" / "x.png"
    assert generate(image_ckpt, "--seed", 1, "-o", out).exit_code == 0
    assert out.is_file()


def test_audio_pipelines_write_wav_at_the_unet_sample_rate(tmp_path, cli_toys):
    ckpt = write_checkpoint(tmp_path / "audio-ckpt", kind="audio", sample_rate=8000)
    result = generate(ckpt, "--seed", 3, "--num-images", 2, "-o", tmp_path / "sound.png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("sound*")) == ["sound-0.wav", "sound-1.wav"]
    with wave.open(str(tmp_path / "sound-1.wav")) as reader:
        assert reader.getframerate() == 8000 and reader.getnchannels() == 2
        frames = np.frombuffer(reader.readframes(64), dtype="<i2").reshape(64, 2)
    expected = 0.2 * torch.randn((1, 2, 64), generator=torch.Generator().manual_seed(4))
    pcm = np.round(np.clip(expected[0].numpy(), -1, 1) * 32767).astype(np.int16).T
    assert np.array_equal(frames, pcm)


def test_audio_without_a_sample_rate_is_an_error(tmp_path, cli_toys):
    ckpt = write_checkpoint(tmp_path / "audio-ckpt", kind="audio")
    result = generate(ckpt, "--seed", 3, "-o", tmp_path / "s.wav")
    assert_one_error_line(result, 1, "sample_rate")


# ------------------------------------------------------------------------------- options


def test_options_reach_the_pipeline_under_its_parameter_names(text_ckpt, tmp_path):
    result = generate(
        text_ckpt,
        *("--prompt", "a cat", "--negative-prompt", "blurry", "--steps", 6),
        *("--guidance", 3.5, "--width", 24, "--height", 16, "--num-images", 2),
        *("--seed", 5, "-o", tmp_path / "t.png"),
    )
    assert result.exit_code == 0, result.output
    call = CALLS[-1]
    assert (call["prompt"], call["negative_prompt"]) == ("a cat", "blurry")
    assert (call["num_inference_steps"], call["guidance_scale"]) == (6, 3.5)
    assert (call["width"], call["height"], call["num_images_per_prompt"]) == (24, 16, 2)
    assert call["output_type"] == "np"  # the pipeline's default; arrays are converted to save
    assert [g.initial_seed() for g in call["generator"]] == [5, 6]
    assert PIL.Image.open(tmp_path / "t-1.png").size == (24, 16)
    assert settings_of(tmp_path / "t-0.png")["prompt"] == "a cat"


def test_unset_options_leave_the_pipeline_defaults(text_ckpt, tmp_path):
    assert generate(text_ckpt, "--seed", 0, "-o", tmp_path / "d.png").exit_code == 0
    call = CALLS[-1]
    assert call["prompt"] is None and call["guidance_scale"] == 7.5
    assert call["num_inference_steps"] == 4 and call["num_images_per_prompt"] == 1


@pytest.mark.parametrize(
    "option",
    [("--prompt", "x"), ("--guidance", "2"), ("--width", "16"), ("--negative-prompt", "y")],
)
def test_an_option_the_pipeline_does_not_take_is_a_usage_error_before_loading(
    image_ckpt, tmp_path, option
):
    (image_ckpt / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"broken")
    result = generate(image_ckpt, *option, "-o", tmp_path / "x.png")
    assert_one_error_line(result, 2, f"does not take {option[0]}", "batch_size")
    assert CALLS == [] and not (tmp_path / "x.png").exists()


def test_seed_for_a_pipeline_without_generator_is_a_usage_error(tmp_path, cli_toys, monkeypatch):
    from ._cli_toys import ToyAudioPipeline

    def call(self, batch_size: int = 1, return_dict: bool = True):
        raise AssertionError("must not be called")

    monkeypatch.setattr(ToyAudioPipeline, "__call__", call)
    ckpt = write_checkpoint(tmp_path / "a", kind="audio", sample_rate=100)
    assert_one_error_line(generate(ckpt, "--seed", 1), 2, "does not take --seed")


def test_bad_size_is_one_error_line(text_ckpt, tmp_path):
    result = generate(text_ckpt, "--width", 20, "-o", tmp_path / "x.png")
    assert_one_error_line(result, 1, "multiples of 8", "8x20")
    usage = generate(text_ckpt, "--width", 0)
    assert usage.exit_code == 2 and "--width" in usage.output


@pytest.mark.parametrize("dtype, expected", [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_dtype(image_ckpt, tmp_path, dtype, expected):
    assert (
        generate(image_ckpt, "--dtype", dtype, "--seed", 1, "-o", tmp_path / "x.png").exit_code == 0
    )
    assert CALLS[-1]["dtype"] == expected


def test_device_cpu_and_an_unavailable_device(image_ckpt, tmp_path, monkeypatch):
    assert (
        generate(image_ckpt, "--device", "cpu", "--seed", 1, "-o", tmp_path / "x.png").exit_code
        == 0
    )
    assert CALLS[-1]["device"].type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    missing = generate(image_ckpt, "--device", "cuda", "-o", tmp_path / "y.png")
    assert_one_error_line(missing, 1, "--device cuda", "not available")
    assert generate(image_ckpt, "--device", "tpu").exit_code == 2


# ----------------------------------------------------------------------------- schedulers


@pytest.mark.parametrize(
    "name, cls, karras",
    [
        ("euler", "ToyEulerScheduler", False),
        ("EULER-KARRAS", "ToyEulerScheduler", True),
        ("EulerDiscreteScheduler", "ToyEulerScheduler", False),
    ],
)
def test_scheduler_alias_or_class_swaps_keeping_the_config(image_ckpt, tmp_path, name, cls, karras):
    out = tmp_path / "s.png"
    result = generate(image_ckpt, "--scheduler", name, "--seed", 2, "-o", out)
    assert result.exit_code == 0, result.output
    assert CALLS[-1]["scheduler"] == cls
    config = CALLS[-1]["scheduler_config"]
    assert config["shrink"] == 0.3 and config["use_karras_sigmas"] is karras
    assert settings_of(out)["scheduler"] == cls


def test_unknown_scheduler_lists_aliases_and_compatible_classes(image_ckpt, tmp_path):
    result = generate(image_ckpt, "--scheduler", "eulr", "-o", tmp_path / "x.png")
    assert_one_error_line(result, 2, "'eulr'", "dpm++2m", "unipc", "ToyScheduler")
    assert not (tmp_path / "x.png").exists()
    bad = generate(image_ckpt, "--scheduler", "not a name")
    assert_one_error_line(bad, 2, "known aliases")


def test_incompatible_scheduler_is_refused(image_ckpt, tmp_path):
    result = generate(image_ckpt, "--scheduler", "UnrelatedScheduler", "-o", tmp_path / "x.png")
    assert_one_error_line(result, 2, "not compatible", "ToyEulerScheduler")


def test_alias_whose_class_is_not_installed(image_ckpt, monkeypatch):
    from diffusekit.cli import _schedulers

    monkeypatch.setitem(_schedulers.ALIASES, "toy-missing", _schedulers.Alias("NoSuchScheduler"))
    result = generate(image_ckpt, "--scheduler", "toy-missing")
    assert_one_error_line(result, 2, "NoSuchScheduler", "known aliases")


def test_scheduler_for_a_pipeline_without_one(tmp_path, cli_toys):
    ckpt = write_checkpoint(tmp_path / "a", kind="audio", sample_rate=100)
    assert_one_error_line(generate(ckpt, "--scheduler", "euler"), 2, "no scheduler component")


# --------------------------------------------------------------------------------- errors


def test_missing_plugin_names_the_install(image_ckpt, tmp_path, monkeypatch):
    index = json.loads((image_ckpt / "model_index.json").read_text())
    index["_class_name"] = "ToyMissingPipeline"
    (image_ckpt / "model_index.json").write_text(json.dumps(index))
    monkeypatch.setitem(
        _providers._BY_CLASS, ("diffusers", "ToyMissingPipeline"), "diffusekit-toy-extras"
    )
    result = generate(image_ckpt, "-o", tmp_path / "x.png")
    assert_one_error_line(
        result, 1, "'diffusers.ToyMissingPipeline'", "pip install diffusekit-toy-extras"
    )
    debug = generate(image_ckpt, "--debug")
    assert isinstance(debug.exception, MissingComponentError)


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda c: (c / "model_index.json").unlink(), "model_index.json"),
        (lambda c: (c / "model_index.json").write_text("{nope"), "model_index.json"),
        (lambda c: (c / "model_index.json").write_text('{"_class_name": 3}'), "_class_name"),
        (lambda c: (c / "unet" / "config.json").unlink(), "config.json"),
        (
            lambda c: (c / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"x" * 9),
            "diffusion_pytorch_model.safetensors",
        ),
    ],
)
def test_bad_checkpoint_is_one_error_line(image_ckpt, damage, fragment):
    damage(image_ckpt)
    assert_one_error_line(generate(image_ckpt), 1, fragment)


def test_path_that_is_not_a_folder(tmp_path, cli_toys):
    assert_one_error_line(generate(tmp_path / "nowhere"), 1, "no such folder")
    (tmp_path / "file").write_text("x")
    assert_one_error_line(generate(tmp_path / "file"), 1, "is a file")


def test_pipeline_errors_are_shown_as_one_line_and_raised_with_debug(text_ckpt):
    result = generate(text_ckpt, "--height", 12, "--debug")
    assert isinstance(result.exception, ValueError) and "12x16" in str(result.exception)


# ------------------------------------------------------------------------- default model


def test_default_checkpoint_comes_from_the_unconditional_plugin(image_ckpt, tmp_path, monkeypatch):
    plugin = types.ModuleType("diffusekit_unconditional")
    plugin.default_model_path = lambda: image_ckpt  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "diffusekit_unconditional", plugin)
    result = generate("--seed", 4, "-o", tmp_path / "default.png")
    assert result.exit_code == 0, result.output
    assert settings_of(tmp_path / "default.png")["checkpoint"] == str(image_ckpt)


def test_without_the_unconditional_plugin_the_default_names_the_install(cli_toys, monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusekit_unconditional", None)
    assert_one_error_line(generate(), 1, "pip install diffusekit-unconditional")


def test_default_model_missing_from_the_plugin(cli_toys, monkeypatch):
    plugin = types.ModuleType("diffusekit_unconditional")

    def missing():
        raise FileNotFoundError("default_model/model_index.json: not installed")

    plugin.default_model_path = missing  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "diffusekit_unconditional", plugin)
    assert_one_error_line(generate(), 1, "not installed")


# ------------------------------------------------------------------------------- progress


def test_progress_bars_for_loading_and_steps_on_stderr(image_ckpt, tmp_path):
    result = generate(image_ckpt, "--steps", 3, "--seed", 1, "-o", tmp_path / "p.png", quiet=False)
    assert result.exit_code == 0, result.output
    assert "loading" in result.stderr and "3/3" in result.stderr
    assert "sampling" in result.stderr and "unet (ToyNet)" in result.stderr
    assert "%|" not in result.stdout


def test_help_lists_every_option():
    result = CliRunner().invoke(main, ["generate", "--help"])
    options = ["--prompt", "--negative-prompt", "--steps", "--guidance", "--seed", "--scheduler"]
    options += ["--width", "--height", "--num-images", "--dtype", "--device", "--output"]
    for option in [*options, "--no-progress", "--debug"]:
        assert option in result.output


def test_importing_the_cli_loads_no_torch():
    code = "import sys, diffusekit.cli\nprint('torch' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_a_hub_repo_id_is_loaded_through_the_hub(image_ckpt, tmp_path, hub_server):
    hub_server.add_repo("toy-org/toy-image", image_ckpt)
    out = tmp_path / "hub.png"
    assert generate("toy-org/toy-image", "--seed", 9, "-o", out).exit_code == 0
    assert generate(image_ckpt, "--seed", 9, "-o", tmp_path / "local.png").exit_code == 0
    assert np.array_equal(pixels(out), pixels(tmp_path / "local.png"))
    assert "unet/diffusion_pytorch_model.safetensors" in hub_server.file_requests("GET")
