"""The README's Stable Diffusion example runs as printed, against a tiny checkpoint served
under the example's repo id by a local Hub server (huggingface_hub's real client)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from diffusekit_stable_diffusion import tiny

README = Path(__file__).resolve().parents[2] / "README.md"
REPO_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    chosen = [block for block in blocks if REPO_ID in block and "astronaut" in block]
    assert len(chosen) == 1, "the README has one Stable Diffusion example"
    return chosen[0]


@pytest.fixture
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_readme_text_to_image_example_runs(hub_server, tmp_path, monkeypatch, one_thread):
    tiny.save_tiny_checkpoint(tmp_path / "checkpoint")
    hub_server.add_repo(REPO_ID, tmp_path / "checkpoint")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(readme_example(), str(README), "exec"), namespace)
    from PIL import Image

    pipe = namespace["pipe"]
    expected = pipe.unet.config.sample_size * pipe.vae_scale_factor
    with Image.open(tmp_path / "astronaut.png") as saved:
        assert saved.size == (expected, expected)
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert type(pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert "unet/diffusion_pytorch_model.safetensors" in hub_server.file_requests(repo_id=REPO_ID)
