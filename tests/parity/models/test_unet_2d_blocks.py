"""Every 2D U-Net block against the reference's block of the same name, built alone.

Each case builds both blocks with the same (tiny) arguments, checks that the state-dict keys
and shapes match, copies the reference's weights into ours and compares the outputs. Sizes are
chosen so the channel arithmetic is visible: up blocks whose `in_channels`,
`prev_output_channel` and `out_channels` all differ, several layers, and NCSN++ widths below
128 channels where the attention skip-up block's group count differs from the plain one's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_models import (  # noqa: E402
    unet_2d_attn_blocks,
    unet_2d_blocks,
    unet_2d_skip_blocks,
)
from diffusers.models.unets import unet_2d_blocks as reference_blocks  # noqa: E402

from ._reference_io import assert_close  # noqa: E402

pytestmark = pytest.mark.parity

BATCH, SIZE, TEMB, CONTEXT = 2, 8, 16, 12

Inputs = Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(BATCH, *shape)


def _down(channels: int, **extra: Any) -> Inputs:
    return lambda: ((_randn(channels, SIZE, SIZE), _randn(TEMB)), extra)


def _up(prev: int, skips: tuple[int, ...], **extra: Any) -> Inputs:
    def make() -> tuple[tuple[Any, ...], dict[str, Any]]:
        states = tuple(_randn(c, SIZE, SIZE) for c in skips)
        return (_randn(prev, SIZE, SIZE), states, _randn(TEMB)), extra

    return make


def _context() -> dict[str, Any]:
    return {"encoder_hidden_states": _randn(5, CONTEXT)}


CROSS = {"num_attention_heads": 2, "cross_attention_dim": CONTEXT}
UP = {"in_channels": 4, "prev_output_channel": 6, "out_channels": 8, "temb_channels": TEMB}
DOWN = {"in_channels": 4, "out_channels": 8, "temb_channels": TEMB}

CASES: dict[str, tuple[str, dict[str, Any], Inputs]] = {
    "DownBlock2D": ("DownBlock2D", {**DOWN, "num_layers": 2, "resnet_groups": 2}, _down(4)),
    "DownBlock2D-no-downsample": (
        "DownBlock2D",
        {**DOWN, "num_layers": 3, "resnet_groups": 2, "add_downsample": False},
        _down(4),
    ),
    "CrossAttnDownBlock2D": (
        "CrossAttnDownBlock2D",
        {
            **DOWN,
            **CROSS,
            "num_layers": 2,
            "resnet_groups": 2,
            "transformer_layers_per_block": [1, 2],
        },
        lambda: ((_randn(4, SIZE, SIZE), _randn(TEMB)), _context()),
    ),
    "UpBlock2D": ("UpBlock2D", {**UP, "num_layers": 3, "resnet_groups": 2}, _up(6, (4, 8, 8))),
    "CrossAttnUpBlock2D": (
        "CrossAttnUpBlock2D",
        {**UP, **CROSS, "num_layers": 2, "resnet_groups": 2, "use_linear_projection": True},
        lambda: (_up(6, (4, 8))()[0], _context()),
    ),
    "UNetMidBlock2D": (
        "UNetMidBlock2D",
        {
            "in_channels": 8,
            "temb_channels": TEMB,
            "num_layers": 2,
            "resnet_groups": 2,
            "attention_head_dim": 4,
        },
        _down(8),
    ),
    "UNetMidBlock2D-scale-shift": (
        "UNetMidBlock2D",
        {
            "in_channels": 8,
            "temb_channels": TEMB,
            "resnet_groups": 2,
            "attention_head_dim": 4,
            "resnet_time_scale_shift": "scale_shift",
            "attn_groups": 4,
        },
        _down(8),
    ),
    "UNetMidBlock2DCrossAttn": (
        "UNetMidBlock2DCrossAttn",
        {
            "in_channels": 4,
            "out_channels": 8,
            "temb_channels": TEMB,
            "resnet_groups": 2,
            "resnet_groups_out": 4,
            "num_layers": 2,
            **CROSS,
        },
        lambda: ((_randn(4, SIZE, SIZE), _randn(TEMB)), _context()),
    ),
    "DownEncoderBlock2D": (
        "DownEncoderBlock2D",
        {"in_channels": 4, "out_channels": 8, "num_layers": 2, "resnet_groups": 2},
        lambda: ((_randn(4, SIZE, SIZE),), {}),
    ),
    "UpDecoderBlock2D": (
        "UpDecoderBlock2D",
        {"in_channels": 4, "out_channels": 8, "num_layers": 2, "resnet_groups": 2},
        lambda: ((_randn(4, SIZE, SIZE),), {}),
    ),
    "UpDecoderBlock2D-spatial": (
        "UpDecoderBlock2D",
        {
            "in_channels": 32,
            "out_channels": 64,
            "num_layers": 2,
            "resnet_groups": 2,
            "resnet_time_scale_shift": "spatial",
            "temb_channels": 3,
        },
        lambda: ((_randn(32, SIZE, SIZE),), {"temb": _randn(3, SIZE // 2, SIZE // 2)}),
    ),
    "AttnDownBlock2D": (
        "AttnDownBlock2D",
        {**DOWN, "num_layers": 2, "resnet_groups": 2, "attention_head_dim": 4},
        _down(4),
    ),
    "AttnDownBlock2D-resnet": (
        "AttnDownBlock2D",
        {
            **DOWN,
            "num_layers": 2,
            "resnet_groups": 2,
            "attention_head_dim": 4,
            "downsample_type": "resnet",
            "resnet_time_scale_shift": "scale_shift",
        },
        _down(4),
    ),
    "AttnUpBlock2D": (
        "AttnUpBlock2D",
        {**UP, "num_layers": 3, "resnet_groups": 2, "attention_head_dim": 4},
        _up(6, (4, 8, 8)),
    ),
    "AttnUpBlock2D-resnet": (
        "AttnUpBlock2D",
        {
            **UP,
            "num_layers": 2,
            "resnet_groups": 2,
            "attention_head_dim": 4,
            "upsample_type": "resnet",
        },
        _up(6, (4, 8)),
    ),
    "ResnetDownsampleBlock2D": (
        "ResnetDownsampleBlock2D",
        {**DOWN, "num_layers": 2, "resnet_groups": 2, "skip_time_act": True},
        _down(4),
    ),
    "ResnetUpsampleBlock2D": (
        "ResnetUpsampleBlock2D",
        {**UP, "num_layers": 2, "resnet_groups": 2, "skip_time_act": True},
        _up(6, (4, 8)),
    ),
    "SkipDownBlock2D": (
        "SkipDownBlock2D",
        {"in_channels": 8, "out_channels": 16, "temb_channels": TEMB, "num_layers": 2},
        _down(8, skip_sample=_randn(3, SIZE, SIZE)),
    ),
    "AttnSkipDownBlock2D": (
        "AttnSkipDownBlock2D",
        {
            "in_channels": 16,
            "out_channels": 32,
            "temb_channels": TEMB,
            "num_layers": 2,
            "attention_head_dim": 8,
        },
        _down(16, skip_sample=_randn(3, SIZE, SIZE)),
    ),
    "SkipUpBlock2D": (
        "SkipUpBlock2D",
        {
            "in_channels": 8,
            "prev_output_channel": 16,
            "out_channels": 12,
            "temb_channels": TEMB,
            "num_layers": 2,
        },
        _up(16, (8, 12), skip_sample=_randn(3, SIZE // 2, SIZE // 2)),
    ),
    "AttnSkipUpBlock2D": (
        "AttnSkipUpBlock2D",
        {
            "in_channels": 32,
            "prev_output_channel": 32,
            "out_channels": 32,
            "temb_channels": TEMB,
            "num_layers": 2,
            "attention_head_dim": 8,
        },
        _up(32, (32, 32), skip_sample=_randn(3, SIZE // 2, SIZE // 2)),
    ),
}

OURS = {
    name: value
    for module in (unet_2d_blocks, unet_2d_attn_blocks, unet_2d_skip_blocks)
    for name, value in vars(module).items()
    if isinstance(value, type)
    and issubclass(value, torch.nn.Module)
    and value.__module__ == module.__name__
    and not name.startswith("_")
}


def _tensors(output: Any) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    return [t for item in output for t in _tensors(item)]


def test_every_block_type_is_covered() -> None:
    assert {kind for kind, _, _ in CASES.values()} == set(OURS)


@pytest.mark.parametrize("case", sorted(CASES))
def test_block_matches_reference(case: str) -> None:
    kind, options, inputs = CASES[case]
    torch.manual_seed(0)
    theirs = getattr(reference_blocks, kind)(**options).eval()
    ours = OURS[kind](**options).eval()
    reference_state = theirs.state_dict()
    mine = ours.state_dict()
    assert sorted(mine) == sorted(reference_state)
    for key, value in reference_state.items():
        assert mine[key].shape == value.shape, key
    ours.load_state_dict(reference_state)
    args, kwargs = inputs()
    with torch.no_grad():
        expected = _tensors(theirs(*args, **kwargs))
        found = _tensors(ours(*args, **kwargs))
    assert len(found) == len(expected)
    for a, b in zip(found, expected):
        assert_close(a, b)
