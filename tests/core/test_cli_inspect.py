"""`diffusekit inspect`: classes, providers, files, variants, formats, sizes, --check, --json."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from diffusekit import _providers
from diffusekit.cli import main

COMPONENTS = "diffusekit.components"

PIPELINE_MODULE = """
from diffusekit.pipeline import DiffusionPipeline


class InspectPipeline(DiffusionPipeline):
    _optional_components = ["extra"]

    def __init__(self, unet, scheduler, extra=None, flag=True):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler, extra=extra)
        self.register_to_config(flag=flag)
"""

# A model class whose module must never be imported by a metadata-only inspect.
RAISING = "raise RuntimeError('inspect must not import me')\n"

WEIGHTS = {
    "conv.weight": torch.zeros(4, 3, 3, 3),
    "conv.bias": torch.zeros(4),
    "proj.weight": torch.zeros(2, 5),
}
PARAMETERS = sum(t.numel() for t in WEIGHTS.values())


def invoke(*args):
    return CliRunner().invoke(main, ["inspect", *map(str, args)])


@pytest.fixture
def plugins(fake_distribution):
    fake_distribution(
        "inspect-pipelines",
        version="2.1",
        entry_points={
            COMPONENTS: {"diffusers.InspectPipeline": "inspect_pipelines:InspectPipeline"},
            "diffusekit.tasks": {"toy-inspect.text2image": "inspect_pipelines:InspectPipeline"},
        },
        modules={"inspect_pipelines.py": PIPELINE_MODULE},
    )
    fake_distribution(
        "inspect-models",
        version="0.3",
        entry_points={COMPONENTS: {"diffusers.InspectNet": "inspect_models:InspectNet"}},
        modules={"inspect_models.py": RAISING},
    )


def write_checkpoint(root, scheduler_class="ToyMissingScheduler"):
    index = {
        "_class_name": "InspectPipeline",
        "_diffusers_version": "0.42.1",
        "unet": ["diffusers", "InspectNet"],
        "scheduler": ["diffusers", scheduler_class],
        "extra": [None, None],
        "flag": False,
    }
    root.mkdir(parents=True)
    (root / "model_index.json").write_text(json.dumps(index))
    unet = root / "unet"
    unet.mkdir()
    (unet / "config.json").write_text('{"_class_name": "InspectNet"}')
    save_file(WEIGHTS, str(unet / "diffusion_pytorch_model.safetensors"))
    half = {k: v.half() for k, v in WEIGHTS.items()}
    save_file(half, str(unet / "diffusion_pytorch_model.fp16.safetensors"))
    torch.save(WEIGHTS, unet / "diffusion_pytorch_model.bin")
    (unet / "flax_model.msgpack").write_bytes(b"\x80" * 10)
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text('{"num_train_timesteps": 10}')
    return root


@pytest.fixture
def checkpoint(tmp_path, plugins, monkeypatch):
    monkeypatch.setitem(
        _providers._BY_CLASS, ("diffusers", "ToyMissingScheduler"), "diffusekit-toy-extras"
    )
    return write_checkpoint(tmp_path / "ckpt")


def disk_size(folder) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_json_report_from_metadata_only(checkpoint):
    result = invoke(checkpoint, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pipeline_class"] == "InspectPipeline"
    assert report["pipeline_provider"]["distribution"] == "inspect-pipelines"
    assert report["pipeline_provider"]["version"] == "2.1"
    assert report["families"] == ["toy-inspect"]
    assert report["values"] == {"flag": False}
    unet, scheduler, extra = report["components"]
    assert (unet["name"], unet["library"], unet["class_name"]) == (
        "unet",
        "diffusers",
        "InspectNet",
    )
    assert unet["provider"]["distribution"] == "inspect-models"
    assert unet["provider"]["target"] == "inspect_models:InspectNet"
    assert unet["formats"] == ["bin", "other", "safetensors"]
    assert unet["variants"] == ["default", "fp16"]
    assert unet["parameters"] == PARAMETERS
    assert unet["size"] == disk_size(checkpoint / "unet")
    fp16 = next(f for f in unet["files"] if f["variant"] == "fp16")
    assert fp16["dtypes"] == ["F16"] and fp16["parameters"] == PARAMETERS
    assert scheduler["provider"]["status"] == "missing"
    assert scheduler["provider"]["install"] == "pip install diffusekit-toy-extras"
    assert scheduler["formats"] == [] and scheduler["parameters"] is None
    assert extra["class_name"] is None and extra["provider"] is None
    assert report["check"] is None
    assert "inspect_models" not in sys.modules and "inspect_pipelines" not in sys.modules


def test_text_report(checkpoint):
    result = invoke(checkpoint)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "pipeline: InspectPipeline  [inspect-pipelines 2.1]" in out
    assert "unet: diffusers.InspectNet  [inspect-models 0.3]" in out
    assert "formats: bin, other, safetensors; variants: default, fp16" in out
    assert f"{PARAMETERS:,} parameters (F16, F32)" in out
    assert (
        "scheduler: diffusers.ToyMissingScheduler  [MISSING: pip install diffusekit-toy-extras]"
        in out
    )
    assert "extra: None" in out and "flag = False" in out
    assert f"total: {PARAMETERS:,} parameters" in out


def test_parameters_of_a_sharded_variant_only_checkpoint(tmp_path, plugins):
    root = write_checkpoint(tmp_path / "ckpt")
    unet = root / "unet"
    for path in unet.glob("diffusion_pytorch_model*"):
        path.unlink()
    first, second = dict(list(WEIGHTS.items())[:2]), dict(list(WEIGHTS.items())[2:])
    save_file(first, str(unet / "diffusion_pytorch_model.fp16-00001-of-00002.safetensors"))
    save_file(second, str(unet / "diffusion_pytorch_model.fp16-00002-of-00002.safetensors"))
    (unet / "diffusion_pytorch_model.safetensors.index.fp16.json").write_text("{}")
    report = json.loads(invoke(root, "--json").stdout)
    unet_report = report["components"][0]
    assert unet_report["variants"] == ["fp16"] and unet_report["formats"] == [
        "other",
        "safetensors",
    ]
    assert unet_report["parameters"] == PARAMETERS


def test_registered_and_conflicting_providers(checkpoint, fake_distribution, diffusekit_registry):
    diffusekit_registry.register("diffusers", "ToyMissingScheduler", "somewhere:Scheduler")
    fake_distribution(
        "inspect-rival",
        entry_points={COMPONENTS: {"diffusers.InspectNet": "inspect_rival:InspectNet"}},
        modules={"inspect_rival.py": RAISING},
    )
    result = invoke(checkpoint)
    assert result.exit_code == 0, result.output
    assert "[register() in this process]" in result.stdout
    assert "CONFLICT" in result.stdout and "inspect-rival" in result.stdout


def test_check_loads_and_reports_the_failure(checkpoint):
    result = invoke(checkpoint, "--check")
    assert result.exit_code == 1
    assert "load check: FAILED" in result.stdout and "inspect must not import me" in result.stdout
    debug = invoke(checkpoint, "--check", "--debug")
    assert debug.exit_code != 0 and "inspect must not import me" in str(debug.exception)


def test_check_ok_on_a_loadable_checkpoint(tmp_path, diffusekit_registry):
    from ._cli_toys import toy_classes
    from ._cli_toys import write_checkpoint as write_toy

    with toy_classes():
        root = write_toy(tmp_path / "toy")
        result = invoke(root, "--check")
        assert result.exit_code == 0, result.output
        assert "load check: OK" in result.stdout
        report = json.loads(invoke(root, "--check", "--json").stdout)
        assert report["check"].startswith("OK")
        assert report["components"][0]["provider"]["status"] == "registered"


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda c: (c / "model_index.json").unlink(), "model_index.json"),
        (lambda c: (c / "model_index.json").write_text("[1]"), "model_index.json"),
        (
            lambda c: (c / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"z" * 20),
            "diffusion_pytorch_model.safetensors",
        ),
    ],
)
def test_unreadable_checkpoint_is_one_error_line(checkpoint, damage, fragment):
    damage(checkpoint)
    result = invoke(checkpoint)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


def test_not_a_folder(tmp_path):
    result = invoke(tmp_path / "missing")
    assert result.exit_code == 1 and "no such folder" in result.stderr


def test_hub_repo_downloads_json_files_only(checkpoint, hub_server):
    hub_server.add_repo("toy-org/inspect-me", checkpoint)
    hub_server.clear()
    result = invoke("toy-org/inspect-me", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    unet = report["components"][0]
    assert unet["variants"] == ["default", "fp16"] and unet["parameters"] is None
    assert unet["size"] is None
    assert all(f["size"] is None for f in unet["files"] if f["format"] is not None)
    fetched = hub_server.file_requests("GET")
    assert "model_index.json" in fetched and "unet/config.json" in fetched
    assert all(name.endswith(".json") for name in fetched)
    text = invoke("toy-org/inspect-me").stdout
    assert "size unknown (not downloaded)" in text
