"""Weights folders move both ways between diffusekit's ModelMixin and the reference's.

Two pairs of equivalent classes: a small stack defined identically on both sides (the file
layer alone, no plugin involved) and the reference's UNet2DModel against the models plugin's.
Each layout (plain, variant, shards, variant shards, fp16, pickles) is written by one library
and read by the other, with no missing or unexpected key and equal tensors.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

diffusers = pytest.importorskip("diffusers")

from diffusers.configuration_utils import register_to_config  # noqa: E402

from diffusekit.config import BaseConfig  # noqa: E402
from diffusekit.modeling import ModelMixin  # noqa: E402

pytestmark = pytest.mark.parity

LAYOUTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "variant": {"variant": "fp16"},
    "shards": {"max_shard_size": "3KB"},
    "variant-shards": {"variant": "fp16", "max_shard_size": "3KB"},
}


class StackConfig(BaseConfig):
    width: int = 16
    depth: int = 3
    vocab: int = 12


def _build(module: nn.Module, width: int, depth: int, vocab: int) -> None:
    module.embed = nn.Embedding(vocab, width)
    module.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
    module.norm = nn.GroupNorm(4, width)
    module.register_buffer("scale", torch.linspace(0.5, 1.5, width))
    module.register_buffer("freqs", torch.arange(width, dtype=torch.float32), persistent=False)


class Stack(ModelMixin):
    config_class = StackConfig

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        _build(self, self.config.width, self.config.depth, self.config.vocab)


class ReferenceStack(diffusers.ModelMixin, diffusers.ConfigMixin):
    @register_to_config
    def __init__(self, width: int = 16, depth: int = 3, vocab: int = 12) -> None:
        super().__init__()
        _build(self, width, depth, vocab)


def _assert_same(ours: nn.Module, theirs: nn.Module) -> None:
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert sorted(mine) == sorted(reference)
    for key, value in reference.items():
        assert mine[key].dtype == value.dtype, key
        assert torch.equal(mine[key], value), f"{key} differs"


def _randomized(model: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
    return model


def _reference_load(cls: Any, folder: Path, **kwargs: Any) -> nn.Module:
    model, info = cls.from_pretrained(folder, output_loading_info=True, **kwargs)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert not info["mismatched_keys"] and not info["error_msgs"], info
    return model


def _our_load(cls: Any, folder: Path, **kwargs: Any) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return cls.from_pretrained(folder, **kwargs)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "config.json")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reference_checkpoint_loads_in_diffusekit(tmp_path: Path, layout: str) -> None:
    options = LAYOUTS[layout]
    reference = _randomized(ReferenceStack(width=16, depth=3), seed=1)
    reference.save_pretrained(tmp_path, **options)
    variant = options.get("variant")
    ours = _our_load(Stack, tmp_path, variant=variant)
    _assert_same(ours, reference)
    assert torch.equal(ours.freqs, reference.freqs)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_diffusekit_checkpoint_loads_in_reference(tmp_path: Path, layout: str) -> None:
    options = LAYOUTS[layout]
    ours = _randomized(Stack(width=16, depth=3), seed=2)
    ours.save_pretrained(tmp_path / "ours", **options)
    ReferenceStack(width=16, depth=3).save_pretrained(tmp_path / "theirs", **options)
    assert _files(tmp_path / "ours") == _files(tmp_path / "theirs")
    for name in _files(tmp_path / "ours"):
        if name.endswith(".json"):
            mine = json.loads((tmp_path / "ours" / name).read_text())
            assert mine == json.loads((tmp_path / "theirs" / name).read_text())
    variant = options.get("variant")
    _assert_same(ours, _reference_load(ReferenceStack, tmp_path / "ours", variant=variant))


def test_half_precision_files_both_ways(tmp_path: Path) -> None:
    reference = _randomized(ReferenceStack(), seed=3).to(torch.float16)
    reference.save_pretrained(tmp_path / "theirs", variant="fp16")
    ours = _our_load(Stack, tmp_path / "theirs", variant="fp16", dtype=torch.float16)
    _assert_same(ours, reference)
    ours.save_pretrained(tmp_path / "ours", variant="fp16", max_shard_size="1KB")
    back = _reference_load(
        ReferenceStack, tmp_path / "ours", variant="fp16", torch_dtype=torch.float16
    )
    _assert_same(ours, back)


def test_pickles_both_ways(tmp_path: Path) -> None:
    reference = _randomized(ReferenceStack(), seed=4)
    reference.save_pretrained(tmp_path / "theirs", safe_serialization=False)
    ours = _our_load(Stack, tmp_path / "theirs", use_safetensors=False)
    _assert_same(ours, reference)
    ours.save_pretrained(tmp_path / "ours", safe_serialization=False, max_shard_size="2KB")
    assert "diffusion_pytorch_model.bin.index.json" in _files(tmp_path / "ours")
    _assert_same(ours, _reference_load(ReferenceStack, tmp_path / "ours", use_safetensors=False))


UNET = {
    "sample_size": 8,
    "block_out_channels": (8, 16),
    "norm_num_groups": 4,
    "layers_per_block": 1,
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
    "attention_head_dim": 4,
}


@pytest.mark.parametrize("layout", ["plain", "variant-shards"])
def test_unet_checkpoints_both_ways(tmp_path: Path, layout: str) -> None:
    from diffusekit_models.unet_2d import UNet2DModel

    options = LAYOUTS[layout]
    variant = options.get("variant")
    reference = _randomized(diffusers.UNet2DModel(**UNET), seed=5)
    reference.save_pretrained(tmp_path / "theirs", **options)
    ours = _our_load(UNet2DModel, tmp_path / "theirs", variant=variant)
    _assert_same(ours, reference)
    ours.save_pretrained(tmp_path / "ours", **options)
    assert _files(tmp_path / "ours") == _files(tmp_path / "theirs")
    _assert_same(ours, _reference_load(diffusers.UNet2DModel, tmp_path / "ours", variant=variant))
