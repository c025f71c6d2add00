"""Train the small unconditional digits model `diffusekit generate` uses by default.

The data are the 1,797 8x8 handwritten digits scikit-learn ships (`load_digits`, values
0..16), upscaled bilinearly to `--size` pixels and mapped to [-1, 1]. The network is a small
`UNet2DModel` trained with the epsilon-prediction objective of Ho et al., "Denoising Diffusion
Probabilistic Models" (2020, Algorithm 1): x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) eps with t
uniform, loss ||eps - eps_theta(x_t, t)||^2. The weights saved are an exponential moving
average of the trained ones.

Training is deterministic for a given `--seed`, `--threads` and torch build: every random draw
(parameter init, data order, timesteps, noise) comes from seeded generators, and torch runs
with deterministic algorithms. The output is a pipeline folder (DDIMPipeline layout)::

    python examples/train_digits.py --seed 0 --out /tmp/digits
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusekit_models import UNet2DModel
from diffusekit_schedulers import DDIMScheduler, DDPMScheduler

REFERENCE_VERSION = "0.42.1"
MODEL_INDEX = {
    "_class_name": "DDIMPipeline",
    "_diffusers_version": REFERENCE_VERSION,
    "scheduler": ["diffusers", "DDIMScheduler"],
    "unet": ["diffusers", "UNet2DModel"],
}
BETAS: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "clip_sample": True,
}
SAMPLING: dict[str, Any] = {"timestep_spacing": "trailing", "set_alpha_to_one": True}


def unet_config(size: int) -> dict[str, Any]:
    """Three resolutions (size, size/2, size/4), attention only at the lowest and in the middle."""
    return {
        "sample_size": size,
        "in_channels": 1,
        "out_channels": 1,
        "block_out_channels": (32, 64, 64),
        "layers_per_block": 1,
        "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        "norm_num_groups": 8,
        "attention_head_dim": 32,
    }


def digits_images(size: int) -> torch.Tensor:
    """All sklearn digits as (1797, 1, size, size) float32 in [-1, 1], upscaled bilinearly."""
    from sklearn.datasets import load_digits

    images = torch.from_numpy(load_digits().images.astype(np.float32)).unsqueeze(1) / 16.0
    if size != images.shape[-1]:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return (images.clamp(0.0, 1.0) * 2.0 - 1.0).contiguous()


def to_digits_scale(samples: torch.Tensor) -> np.ndarray:
    """Model samples in [-1, 1] -> (n, 64) arrays on the 8x8, 0..16 scale of `load_digits`."""
    x = (samples.float().clamp(-1.0, 1.0) + 1.0) / 2.0
    if x.shape[-1] != 8:
        x = F.interpolate(x, size=(8, 8), mode="area")
    return (x * 16.0).reshape(x.shape[0], -1).cpu().numpy()


def make_deterministic(seed: int, threads: int) -> torch.Generator:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def batches(n: int, batch_size: int, generator: torch.Generator):
    """Endless index batches: a fresh permutation each epoch, drawn from `generator`."""
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def learning_rate(step: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then constant: a run's checkpoint at step k equals a `--steps k` run."""
    return peak * min(1.0, (step + 1) / warmup)


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)


def train(args: argparse.Namespace) -> None:
    generator = make_deterministic(args.seed, args.threads)
    data = digits_images(args.size)
    model = UNet2DModel(**unet_config(args.size))
    ema = copy.deepcopy(model).requires_grad_(False)
    scheduler = DDPMScheduler(**BETAS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}", flush=True)
    started = time.perf_counter()
    running = 0.0
    for step, index in enumerate(batches(len(data), args.batch_size, generator)):
        if step == args.steps:
            break
        x0 = data[index]
        noise = torch.randn(x0.shape, generator=generator)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),), generator=generator)
        loss = F.mse_loss(model(scheduler.add_noise(x0, noise, t), t).sample, noise)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.warmup)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        update_ema(ema, model, min(args.ema_decay, (1.0 + step) / (10.0 + step)))
        running += float(loss.detach())
        if (step + 1) % args.log_every == 0:
            elapsed = time.perf_counter() - started
            print(
                f"step {step + 1}/{args.steps} loss {running / args.log_every:.4f} {elapsed:.0f}s",
                flush=True,
            )
            running = 0.0
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            save_pipeline(args.out.with_name(f"{args.out.name}-step{step + 1}"), ema, scheduler)
    print(f"training time: {time.perf_counter() - started:.0f}s", flush=True)
    save_pipeline(args.out, ema, scheduler)
    print(f"saved {args.out}")


def save_pipeline(out: Path, unet: UNet2DModel, training: DDPMScheduler) -> None:
    """Write `model_index.json`, `unet/` and a DDIM `scheduler/` with the training betas."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2) + "\n")
    unet.save_pretrained(out / "unet")
    shared = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas")
    shared += ("clip_sample", "prediction_type")
    ddim = DDIMScheduler(**{k: training.config[k] for k in shared}, **SAMPLING)
    ddim.save_pretrained(out / "scheduler")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1500, help="optimizer steps")
    parser.add_argument("--out", type=Path, required=True, help="pipeline folder to write")
    parser.add_argument("--size", type=int, default=16, help="image side in pixels")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--ema-decay", type=float, default=0.995)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument(
        "--save-every", type=int, default=0, help="also save <out>-step<N> every N steps"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    train(args)


if __name__ == "__main__":
    main()
