"""`diffusekit generate --threads N`: the count reaches torch for the run (and only the run),
is recorded and shown by `inspect`, does not change the pixels, and bad values are usage
errors naming the option."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from diffusekit.cli import main

from ._cli_toys import ToyNet


def generate(*args):
    return CliRunner().invoke(main, ["generate", *map(str, args), "--no-progress"])


@pytest.fixture
def threads_seen(monkeypatch):
    """The intra-op thread count torch had at each toy UNet call."""
    seen: list[int] = []
    forward = ToyNet.forward

    def spy(self, x, t):
        seen.append(torch.get_num_threads())
        return forward(self, x, t)

    monkeypatch.setattr(ToyNet, "forward", spy)
    return seen


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_threads_reach_torch_during_the_run_and_are_restored(
    image_ckpt, tmp_path, threads_seen, restore_threads
):
    wanted = 1 if restore_threads != 1 else 2
    result = generate(image_ckpt, "--threads", wanted, "--steps", 2, "-o", tmp_path / "t.png")
    assert result.exit_code == 0, result.output
    assert threads_seen == [wanted, wanted]
    assert torch.get_num_threads() == restore_threads


def test_without_threads_torch_keeps_its_setting(image_ckpt, tmp_path, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    assert generate(image_ckpt, "--steps", 1, "-o", tmp_path / "d.png").exit_code == 0
    assert calls == []


def test_threads_are_recorded_shown_and_do_not_change_the_image(
    image_ckpt, tmp_path, restore_threads
):
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    assert generate(image_ckpt, "--seed", 3, "--threads", 1, "-o", one).exit_code == 0
    assert generate(image_ckpt, "--seed", 3, "--threads", 2, "-o", two).exit_code == 0
    assert json.loads(PIL.Image.open(one).text["diffusekit"])["threads"] == 1
    assert json.loads(PIL.Image.open(two).text["diffusekit"])["threads"] == 2
    assert np.array_equal(np.asarray(PIL.Image.open(one)), np.asarray(PIL.Image.open(two)))
    shown = CliRunner().invoke(main, ["inspect", str(two)])
    assert shown.exit_code == 0, shown.output
    assert "device: cpu; threads: 2;" in shown.output


@pytest.mark.parametrize("value", ["0", "-3", "two", "1.5", ""])
def test_bad_thread_counts_are_usage_errors_naming_the_option(image_ckpt, value, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    result = generate(image_ckpt, "--threads", value)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "'--threads'" in errors[0], result.stderr
    assert "positive whole number" in errors[0] and repr(value) in errors[0]
    assert calls == []


def test_help_describes_threads():
    result = CliRunner().invoke(main, ["generate", "--help"])
    assert "--threads N" in result.output and "torch.set_num_threads" in result.output
