"""Shared steps of the model parity tests: move a reference model's weights into ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

TOLERANCE = 1e-4


def load_like_reference(ours_class: Any, reference: torch.nn.Module, folder: Path) -> Any:
    """Save `reference` with the reference library and load the folder with `ours_class`.

    Checks that the weights load with no missing or unexpected key and that every tensor
    arrives unchanged.
    """
    reference.save_pretrained(folder)
    ours = ours_class.from_pretrained(folder).eval()
    theirs = reference.state_dict()
    mine = ours.state_dict()
    assert sorted(mine) == sorted(theirs), (
        f"missing: {sorted(set(theirs) - set(mine))}, unexpected: {sorted(set(mine) - set(theirs))}"
    )
    for key, value in theirs.items():
        assert torch.equal(mine[key], value), f"{key} differs after loading"
    return ours


def assert_close(ours: torch.Tensor, theirs: torch.Tensor, tolerance: float = TOLERANCE) -> None:
    assert ours.shape == theirs.shape, f"shape {tuple(ours.shape)} != {tuple(theirs.shape)}"
    difference = (ours - theirs).abs().max().item()
    assert difference <= tolerance, f"max abs difference {difference:.3g} > {tolerance}"
