"""Single layers at the small sizes of a guided denoising step: diffusekit vs the reference.

The layers whose CPU kernel choice differs from plain PyTorch modules (`docs/models.md`,
"Speed"), each against the layer the reference builds for the same job, with the same
weights: a 3x3 convolution and a ResNet block at 8x8 with batch 2 (classifier-free guidance),
nearest 2x upsampling of a tiny-VAE map and of an SD 1.5 UNet map, and a group norm. Both
libraries in this one process, 1 torch thread, inference mode, alternating; each sample is the
median of `--calls` calls. Outputs are compared, so a faster layer cannot compute something
else.

    python bench/bench_layers.py --repeat 5 --calls 200
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import _harness as h
import torch
from torch import nn

Layer = Callable[[torch.Tensor], torch.Tensor]


def conv3x3(channels: int) -> tuple[Layer, Layer]:
    from diffusekit_models.conv import Conv2d

    ours = Conv2d(channels, channels, kernel_size=3, padding=1)
    theirs = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def resnet(channels: int) -> tuple[Layer, Layer]:
    from diffusekit_models.resnet import ResnetBlock2D
    from diffusers.models.resnet import ResnetBlock2D as ReferenceBlock

    options = {"in_channels": channels, "out_channels": channels, "temb_channels": 4 * channels}
    ours, theirs = ResnetBlock2D(**options, groups=8), ReferenceBlock(**options, groups=8)
    theirs.load_state_dict(ours.state_dict())
    temb = torch.randn(2, 4 * channels, generator=torch.Generator().manual_seed(1))
    return (lambda x: ours(x, temb)), (lambda x: theirs(x, temb))


def upsample(channels: int) -> tuple[Layer, Layer]:
    from diffusekit_models.resnet import Upsample2D
    from diffusers.models.resnet import Upsample2D as ReferenceUpsample

    return Upsample2D(channels), ReferenceUpsample(channels)


def group_norm(channels: int) -> tuple[Layer, Layer]:
    from diffusekit_models.normalization import GroupNorm

    return GroupNorm(8, channels), nn.GroupNorm(8, channels)


#: Figure name: (layer pair builder, channels, input shape).
CASES: dict[str, tuple[Callable[[int], tuple[Layer, Layer]], int, tuple[int, ...]]] = {
    "conv3x3-2x32x8x8": (conv3x3, 32, (2, 32, 8, 8)),
    "conv3x3-2x64x8x8": (conv3x3, 64, (2, 64, 8, 8)),
    "resnet-2x64x8x8": (resnet, 64, (2, 64, 8, 8)),
    "upsample-1x32x32x32": (upsample, 32, (1, 32, 32, 32)),
    "upsample-2x1280x16x16": (upsample, 1280, (2, 1280, 16, 16)),
    "groupnorm-2x64x8x8": (group_norm, 64, (2, 64, 8, 8)),
}


def median_us(layer: Layer, x: torch.Tensor, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        layer(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def measure(name: str, calls: int, repeats: int) -> dict[str, Any]:
    build, channels, shape = CASES[name]
    torch.manual_seed(0)
    layers = build(channels)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        difference = (layers[0](x) - layers[1](x)).abs().max().item()
        if difference > 1e-4:
            raise SystemExit(f"{name}: outputs differ by {difference}: not the same work")
        samplers = [partial(median_us, layer, x, calls) for layer in layers]
        samples = h.alternating(samplers, repeats)
    return h.figure(f"layers.{name}", f"{name} forward", "µs", samples[0], samples[1],
                    shape=list(shape), threads=1, max_difference=difference)  # fmt: skip


def main(args: Any) -> list[dict[str, Any]]:
    names = args.only or CASES
    return h.one_thread_figures(names, lambda name: measure(name, args.calls, args.repeat))


if __name__ == "__main__":
    parser = h.parser(__doc__.splitlines()[0], repeat=5)
    parser.add_argument("--calls", type=int, default=200, help="calls per sample")
    parser.add_argument("--only", nargs="*", default=None, choices=list(CASES))
    h.run_script(__file__, {}, main, parser)
