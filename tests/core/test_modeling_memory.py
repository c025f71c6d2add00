"""Peak memory of `from_pretrained` on a 512 MiB model, measured in a fresh process.

Peak is VmHWM (this process's own high-water mark): ru_maxrss of a spawned child also counts
the parent's RSS at spawn time, which would hide or fake a regression.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WIDTH = 2048
DEPTH = 32
WEIGHT_BYTES = DEPTH * (WIDTH * WIDTH + WIDTH) * 4

MODEL = f"""
import torch
from torch import nn
from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin


class StackConfig(BaseConfig):
    width: int = {WIDTH}
    depth: int = {DEPTH}


class Stack(ModelMixin):
    config_class = StackConfig

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        self.layers = nn.ModuleList(nn.Linear(c.width, c.width) for _ in range(c.depth))
"""

WRITE = """
import sys
from diffusekit import _safetensors_io
from diffusekit._empty_init import parameters_on_meta

folder = sys.argv[1]
with parameters_on_meta():
    model = Stack()
model.save_config(folder)
items = enumerate(model.state_dict().items())
state = {name: torch.full(tensor.shape, float(i)) for i, (name, tensor) in items}
_safetensors_io.save_file(state, f"{folder}/diffusion_pytorch_model.safetensors", {"format": "pt"})
"""

LOAD = """
import json, resource, sys


def rss_bytes():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


before = rss_bytes()
model = Stack.from_pretrained(sys.argv[1])
with torch.no_grad():
    touched = sum(float(p.sum(dtype=torch.float64)) for p in model.parameters())
with open("/proc/self/status") as handle:
    peak = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM:"))
print(json.dumps({"before": before, "peak": peak, "touched": touched}))
"""


def _run(script: str, folder: Path) -> str:
    code = textwrap.dedent(MODEL) + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stack")
    _run(WRITE, folder)
    size = (folder / "diffusion_pytorch_model.safetensors").stat().st_size
    assert size >= WEIGHT_BYTES >= 500 * 2**20
    return folder


def _expected_sum() -> float:
    sizes = (n for _ in range(DEPTH) for n in (WIDTH * WIDTH, WIDTH))
    return sum(float(i) * n for i, n in enumerate(sizes))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "budget"),
    [
        ("", 1.3),
        ("low_cpu_mem_usage=False", None),
        ("dtype=torch.float16", 0.75),
    ],
)
def test_peak_rss_of_loading(checkpoint: Path, arguments: str, budget: float | None) -> None:
    """Meta loading holds one copy; a conversion holds the converted copy plus one tensor."""
    script = LOAD.replace(
        "from_pretrained(sys.argv[1])", f"from_pretrained(sys.argv[1], {arguments})"
    )
    result = json.loads(_run(script, checkpoint).strip().splitlines()[-1])
    assert result["touched"] == pytest.approx(_expected_sum(), rel=1e-6), "weights not loaded"
    ratio = (result["peak"] - result["before"]) / WEIGHT_BYTES
    if budget is None:
        assert ratio > 1.8, f"the copying load should hold two copies, measured {ratio:.2f}x"
    else:
        assert ratio < budget, f"peak RSS grew by {ratio:.2f}x the fp32 weights (budget {budget}x)"
