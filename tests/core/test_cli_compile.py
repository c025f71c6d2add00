"""`diffusekit generate --compile`: the denoiser runs through `torch.compile`, compilation is
reported apart from the compiled calls, the choice is recorded and replayed by `--from`.

torch.compile is given the "eager" backend here (dynamo captures the graph, no code
generation), so the tests exercise the real wrapper in seconds instead of minutes.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import PIL.Image
import pytest
import torch
import torch._inductor.config as inductor
from click.testing import CliRunner

from diffusekit.cli import _compiling, main


def generate(*args):
    return CliRunner().invoke(main, ["generate", *map(str, args), "--no-progress"])


@pytest.fixture
def compiled(monkeypatch) -> list[torch.nn.Module]:
    """Every module the CLI compiles (with dynamo's eager backend); inductor flags restored."""
    seen: list[torch.nn.Module] = []
    real = torch.compile

    def compile_eagerly(module, **options):
        seen.append(module)
        return real(module, backend="eager", **options)

    monkeypatch.setattr(torch, "compile", compile_eagerly)
    with inductor.patch(freezing=False):
        yield seen
    torch._dynamo.reset()


def record(path) -> dict:
    return json.loads(PIL.Image.open(path).text["diffusekit"])


def test_compile_wraps_the_unet_reports_compilation_and_records_it(image_ckpt, tmp_path, compiled):
    out = tmp_path / "c.png"
    result = generate(image_ckpt, "--compile", "--steps", 3, "--seed", 1, "-o", out)
    assert result.exit_code == 0, result.output
    assert [type(m).__name__ for m in compiled] == ["ToyNet"]
    assert inductor.freezing is True
    line = next(x for x in result.stderr.splitlines() if x.startswith("compiled unet:"))
    assert "compilation about" in line and "over 2 calls" in line
    assert record(out)["compile"] is True
    assert record(out)["components"]["unet"]["class"].endswith("ToyNet")
    shown = CliRunner().invoke(main, ["inspect", str(out)])
    assert "compiled denoiser" in shown.output


def test_compiled_images_equal_eager_ones_and_plain_runs_do_not_compile(
    image_ckpt, tmp_path, compiled
):
    plain, fast = tmp_path / "plain.png", tmp_path / "fast.png"
    assert generate(image_ckpt, "--steps", 2, "--seed", 4, "-o", plain).exit_code == 0
    assert compiled == [] and record(plain)["compile"] is False
    assert generate(image_ckpt, "--compile", "--steps", 2, "--seed", 4, "-o", fast).exit_code == 0
    assert np.array_equal(np.asarray(PIL.Image.open(plain)), np.asarray(PIL.Image.open(fast)))


def test_from_replays_compile_unless_told_not_to(image_ckpt, tmp_path, compiled):
    made = tmp_path / "made.png"
    assert generate(image_ckpt, "--compile", "--steps", 2, "-o", made).exit_code == 0
    compiled.clear()
    again = generate("--from", made, "-o", tmp_path / "again.png")
    assert again.exit_code == 0, again.output
    assert len(compiled) == 1
    compiled.clear()
    plain = generate("--from", made, "--no-compile", "-o", tmp_path / "plain.png")
    assert plain.exit_code == 0, plain.output
    assert compiled == [] and record(tmp_path / "plain.png")["compile"] is False


def test_a_pipeline_without_a_denoiser_is_named_in_the_error():
    pipeline = SimpleNamespace(components={"vae": object(), "scheduler": object(), "unet": None})
    with pytest.raises(ValueError, match=r"--compile: .* components are: scheduler, vae"):
        _compiling.denoiser_name(pipeline)


def test_summary_separates_compilation_from_the_compiled_calls():
    times = _compiling.CallTimes("unet", [30.0, 1.0, 1.2, 0.8])
    assert times.summary() == (
        "compiled unet: compilation about 29.0 s (first call 30.0 s), "
        "then 1.000 s per call over 3 calls"
    )
    assert _compiling.CallTimes("unet", [5.0]).summary().endswith("(includes compilation)")
    assert _compiling.CallTimes("unet").summary() is None


def test_the_timer_sees_every_forward_of_the_compiled_module(compiled):
    pipeline = SimpleNamespace(
        components={"unet": torch.nn.Linear(3, 3)}, unet=torch.nn.Linear(3, 3)
    )
    pipeline.components["unet"] = pipeline.unet
    times = _compiling.compile_denoiser(pipeline, "cpu")
    assert pipeline.unet._orig_mod is pipeline.components["unet"]
    for _ in range(3):
        pipeline.unet(torch.ones(2, 3))
    assert len(times.seconds) == 3 and all(s > 0 for s in times.seconds)
