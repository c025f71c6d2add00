"""Sample the digits model with a plain DDIM loop and score the samples with a classifier.

The classifier is a one-hidden-layer MLP fitted on 75% of scikit-learn's 8x8 digits, each
both as shipped and sent through the upscale/downsample round trip the samples go through (its
accuracy on the other 25% is printed). Samples are downsampled to 8x8 (area average) and
put on the 0..16 scale of the data before classifying. Printed: the fraction of samples
classified with probability >= `--threshold`, and how many of the 10 digits occur among them.
The same numbers for real held-out digits sent through the same upscale/downsample round trip
give the ceiling to compare with::

    python examples/evaluate_digits.py \\
        plugins/unconditional/src/diffusekit_unconditional/default_model
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusekit_models import UNet2DModel
from diffusekit_schedulers import DDIMScheduler
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from train_digits import digits_images, to_digits_scale


@torch.no_grad()
def sample(
    folder: Path, count: int, num_inference_steps: int, seed: int, batch_size: int = 64
) -> torch.Tensor:
    """`count` images in [-1, 1], (count, 1, size, size), from the pipeline folder `folder`."""
    unet = UNet2DModel.from_pretrained(folder / "unet").eval()
    scheduler = DDIMScheduler.from_pretrained(folder / "scheduler")
    size = unet.config.sample_size
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((count, unet.config.in_channels, size, size), generator=generator)
    images = []
    for x in noise.split(batch_size):
        scheduler.set_timesteps(num_inference_steps)
        for t in scheduler.timesteps:
            eps = unet(x, t).sample
            x = scheduler.step(eps, t, x).prev_sample
        images.append(x.clamp(-1.0, 1.0))
    return torch.cat(images)


def fit_classifier(round_trip: np.ndarray, seed: int = 0) -> tuple[MLPClassifier, np.ndarray]:
    """An MLP fitted on 75% of the digits, raw and `round_trip`ped; also the held-out indices."""
    digits = load_digits()
    train, held_out = train_test_split(
        np.arange(len(digits.target)), test_size=0.25, random_state=seed, stratify=digits.target
    )
    classifier = MLPClassifier((128,), max_iter=1000, random_state=seed)
    classifier.fit(
        np.concatenate([digits.data[train], round_trip[train]]),
        np.concatenate([digits.target[train]] * 2),
    )
    return classifier, held_out


def score(
    classifier: MLPClassifier, features: np.ndarray, threshold: float
) -> tuple[float, int, str]:
    """(fraction confident, number of distinct digits among the confident, digit histogram)."""
    probabilities = classifier.predict_proba(features)
    labels = probabilities.argmax(axis=1)
    confident = probabilities.max(axis=1) >= threshold
    histogram = np.bincount(labels[confident], minlength=10)
    return float(confident.mean()), int((histogram > 0).sum()), " ".join(map(str, histogram))


def save_grid(images: torch.Tensor, path: Path, columns: int = 4, cell: int = 64) -> None:
    """A grid of the first columns**2 images, each enlarged to `cell` pixels (nearest)."""
    from PIL import Image

    x = images[: columns * columns]
    x = F.interpolate((x + 1.0) / 2.0, size=(cell, cell), mode="nearest")
    rows = x.reshape(columns, columns, cell, cell).permute(0, 2, 1, 3).reshape(columns * cell, -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rows * 255).round().to(torch.uint8).numpy(), mode="L").save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="pipeline folder written by train_digits.py")
    parser.add_argument("--num-samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=25, help="DDIM inference steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--grid", type=Path, help="also save a 4x4 grid of samples here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    images = sample(args.folder, args.num_samples, args.steps, args.seed)
    elapsed = time.perf_counter() - started
    print(f"sampled {args.num_samples} images, {args.steps} DDIM steps: {elapsed:.1f}s")

    digits = load_digits()
    round_trip = to_digits_scale(digits_images(images.shape[-1]))
    classifier, held_out = fit_classifier(round_trip)
    labels = digits.target[held_out]
    for name, features in (("raw", digits.data[held_out]), ("round trip", round_trip[held_out])):
        accuracy = classifier.score(features, labels)
        print(f"classifier held-out accuracy ({name}): {accuracy:.4f}")
    real = round_trip[held_out]
    for name, features in (("real (round trip)", real), ("generated", to_digits_scale(images))):
        fraction, covered, histogram = score(classifier, features, args.threshold)
        print(
            f"{name}: confidence >= {args.threshold}: {fraction:.1%}, "
            f"digits covered: {covered}/10 (per digit: {histogram})"
        )
    if args.grid is not None:
        save_grid(images, args.grid)
        print(f"grid: {args.grid}")


if __name__ == "__main__":
    main()
