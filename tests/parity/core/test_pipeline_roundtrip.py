"""Pipeline checkpoints cross between the libraries: the reference's DDIM-style checkpoint loads
in diffusekit with identical components, and diffusekit's (plain, variant, sharded) load in the
reference with equal weights. Needs the schedulers and models plugins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit import registry  # noqa: E402
from diffusekit.pipeline import DiffusionPipeline  # noqa: E402

pytestmark = pytest.mark.parity

UNET = {
    "sample_size": 8,
    "in_channels": 3,
    "out_channels": 3,
    "layers_per_block": 1,
    "block_out_channels": (4, 8),
    "norm_num_groups": 2,
    "attention_head_dim": 2,
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
}
SCHEDULER = {"num_train_timesteps": 50, "beta_schedule": "squaredcos_cap_v2", "clip_sample": False}


class UnconditionalPipeline(DiffusionPipeline):
    """Stands in for the unconditional pipelines' own classes (written in their plugin)."""

    def __init__(self, unet: Any, scheduler: Any) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)


@pytest.fixture(autouse=True)
def ddim_pipeline(diffusekit_registry: Any) -> Any:
    with registry.registered("diffusers", "DDIMPipeline", UnconditionalPipeline):
        yield


def reference_pipeline(seed: int = 0) -> Any:
    torch.manual_seed(seed)
    unet = diffusers.UNet2DModel(**UNET)
    with torch.no_grad():
        for parameter in unet.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return diffusers.DDIMPipeline(unet=unet, scheduler=diffusers.DDIMScheduler(**SCHEDULER))


def assert_equal_state(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert sorted(mine) == sorted(reference)
    for key, value in reference.items():
        assert torch.equal(mine[key], value), key


def public(config: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(config).items() if not k.startswith("_")}


def test_reference_checkpoint_loads_with_identical_components(tmp_path: Path) -> None:
    reference = reference_pipeline()
    reference.save_pretrained(tmp_path / "ref")
    pipe = DiffusionPipeline.from_pretrained(tmp_path / "ref")
    assert type(pipe) is UnconditionalPipeline
    assert type(pipe.unet).__module__.startswith("diffusekit_models")
    assert type(pipe.scheduler).__module__.startswith("diffusekit_schedulers")
    assert_equal_state(pipe.unet, reference.unet)
    ours, theirs = public(pipe.scheduler.config), public(reference.scheduler.config)
    assert {k: ours[k] for k in theirs} == json.loads(json.dumps(theirs))
    unet_theirs = json.loads(json.dumps(public(reference.unet.config)))
    assert {k: public(pipe.unet.config)[k] for k in unet_theirs} == unet_theirs
    sample, t = torch.randn(1, 3, 8, 8), torch.tensor([10])
    with torch.no_grad():
        expected = reference.unet(sample, t).sample
        assert torch.allclose(pipe.unet(sample, t).sample, expected, atol=1e-5)


def test_reference_checkpoint_with_a_variant(tmp_path: Path) -> None:
    reference = reference_pipeline()
    reference.save_pretrained(tmp_path / "ref", variant="fp16")
    pipe = DiffusionPipeline.from_pretrained(tmp_path / "ref", variant="fp16")
    assert_equal_state(pipe.unet, reference.unet)


@pytest.mark.parametrize(
    "save_options",
    [{}, {"variant": "fp16"}, {"max_shard_size": "1KB"}, {"max_shard_size": 2000, "variant": "x"}],
    ids=["plain", "variant", "shards", "variant-shards"],
)
def test_diffusekit_checkpoint_loads_in_the_reference(
    tmp_path: Path, save_options: dict[str, Any]
) -> None:
    reference = reference_pipeline(seed=1)
    reference.save_pretrained(tmp_path / "ref")
    ours = DiffusionPipeline.from_pretrained(tmp_path / "ref")
    ours.save_pretrained(tmp_path / "ours", **save_options)
    unet_files = sorted(p.name for p in (tmp_path / "ours" / "unet").iterdir())
    if "max_shard_size" in save_options:
        assert any("-00002-of-" in name for name in unet_files), unet_files
    index = json.loads((tmp_path / "ours" / "model_index.json").read_text())
    assert index["unet"] == ["diffusers", "UNet2DModel"]
    assert index["scheduler"] == ["diffusers", "DDIMScheduler"]
    assert index["_class_name"] == "DDIMPipeline"
    loaded = diffusers.DiffusionPipeline.from_pretrained(
        tmp_path / "ours", variant=save_options.get("variant")
    )
    assert type(loaded) is diffusers.DDIMPipeline
    assert type(loaded.scheduler) is diffusers.DDIMScheduler
    assert_equal_state(ours.unet, loaded.unet)
    theirs = public(loaded.scheduler.config)
    assert {k: public(ours.scheduler.config)[k] for k in theirs} == json.loads(json.dumps(theirs))
