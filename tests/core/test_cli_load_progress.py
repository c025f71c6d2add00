"""The `generate` loading bar counts bytes of weights: its total is the size of the weights
files the checkpoint's components load, and it advances by each component's bytes as the core
reports that component loaded (the `diffusekit_component_loaded` hook)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import tqdm.auto
from click.testing import CliRunner

from diffusekit import registry
from diffusekit.cli import main

from ._cli_toys import ToyImagePipeline, ToyNet, ToyScheduler, write_checkpoint


class BigNet(ToyNet):
    """A second weighted component of another size than ToyNet."""

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.table = torch.nn.Parameter(torch.zeros(300))


class TwoNetPipeline(ToyImagePipeline):
    def __init__(self, unet: ToyNet, vae: BigNet, scheduler: ToyScheduler) -> None:
        super(ToyImagePipeline, self).__init__()
        self.register_modules(unet=unet, vae=vae, scheduler=scheduler)


@pytest.fixture
def loading_bars(monkeypatch) -> list[Any]:
    """Every `loading` bar the command opens, with the value after each update."""
    bars: list[Any] = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.seen: list[int] = []
            if kwargs.get("desc") == "loading":
                bars.append(self)

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            self.seen.append(self.n)
            return shown

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    return bars


@pytest.fixture
def two_net_ckpt(tmp_path, cli_toys) -> Iterator[Path]:
    with (
        registry.registered("diffusers", "BigNet", BigNet),
        registry.registered("diffusers", "TwoNetPipeline", TwoNetPipeline),
    ):
        torch.manual_seed(0)
        pipe = TwoNetPipeline(unet=ToyNet(), vae=BigNet(), scheduler=ToyScheduler())
        pipe.save_pretrained(tmp_path / "two-net")
        yield tmp_path / "two-net"


def weights_bytes(folder: Path, name: str) -> int:
    return sum(p.stat().st_size for p in (folder / name).glob("*.safetensors"))


def generate(checkpoint: Path, out: Path):
    args = ["generate", str(checkpoint), "--steps", "1", "--seed", "0", "-o", str(out)]
    return CliRunner().invoke(main, args)


def test_total_is_the_checkpoint_weights_bytes_and_is_reached(tmp_path, cli_toys, loading_bars):
    checkpoint = write_checkpoint(tmp_path / "image-ckpt")
    expected = sum(p.stat().st_size for p in checkpoint.rglob("*.safetensors"))
    result = generate(checkpoint, tmp_path / "x.png")
    assert result.exit_code == 0, result.output
    (bar,) = loading_bars
    assert expected > 0 and bar.total == expected == weights_bytes(checkpoint, "unet")
    assert bar.n == expected and bar.seen[-1] == expected
    assert "B/s" in result.stderr or "B [" in result.stderr


def test_bar_advances_by_each_component_as_it_loads(two_net_ckpt, tmp_path, loading_bars):
    order = [
        name
        for name, value in json.loads((two_net_ckpt / "model_index.json").read_text()).items()
        if isinstance(value, list) and name in ("unet", "vae")
    ]
    sizes = [weights_bytes(two_net_ckpt, name) for name in order]
    assert sizes[0] != sizes[1] and all(sizes)
    result = generate(two_net_ckpt, tmp_path / "two.png")
    assert result.exit_code == 0, result.output
    (bar,) = loading_bars
    assert bar.total == sum(sizes)
    distinct = [n for i, n in enumerate(bar.seen) if i == 0 or n != bar.seen[i - 1]]
    assert distinct == [sizes[0], sizes[0] + sizes[1]]
    assert f"{order[1]} loaded" in result.stderr


def test_only_the_weights_set_each_folder_loads_is_counted(tmp_path, cli_toys, loading_bars):
    checkpoint = write_checkpoint(tmp_path / "variants", sample_size=8)
    torch.manual_seed(0)
    half = ToyImagePipeline(unet=ToyNet(sample_size=8).to(torch.float16), scheduler=ToyScheduler())
    half.save_pretrained(checkpoint, variant="fp16")
    unet = checkpoint / "unet"
    plain = (unet / "diffusion_pytorch_model.safetensors").stat().st_size
    fp16 = (unet / "diffusion_pytorch_model.fp16.safetensors").stat().st_size
    assert plain != fp16
    assert generate(checkpoint, tmp_path / "plain.png").exit_code == 0
    args = ["generate", str(checkpoint), "--variant", "fp16", "--steps", "1", "--seed", "0"]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "half.png")])
    assert result.exit_code == 0, result.output
    assert [(bar.total, bar.n) for bar in loading_bars] == [(plain, plain), (fp16, fp16)]
