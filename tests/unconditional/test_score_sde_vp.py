"""ScoreSdeVpPipeline against the paper, on data whose score is known exactly.

Song et al. 2021 (arXiv:2011.13456): with data x0 ~ N(mu, s^2 I), the VP SDE's marginal at
time t is N(m(t) mu, m(t)^2 s^2 + 1 - m(t)^2 I) with m(t) = exp(-t^2 (b1 - b0) / 4 - t b0 / 2),
so its score is known in closed form. A module computing the matching noise prediction
replaces the UNet; the sampler must then (1) make exactly the paper's Euler-Maruyama updates
of the reverse SDE and (2) return samples distributed as the data.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from diffusekit_schedulers import ScoreSdeVpScheduler
from diffusekit_unconditional import ScoreSdeVpPipeline

MU, S = 0.2, 0.3
BETA_MIN, BETA_MAX, EPS = 0.1, 20.0, 1e-3


def _mean_scale(t: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.25 * t**2 * (BETA_MAX - BETA_MIN) - 0.5 * t * BETA_MIN)


def exact_score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """grad log p_t(x) for Gaussian data: -(x - m mu) / (m^2 s^2 + 1 - m^2)."""
    m = _mean_scale(t)
    return -(x - m * MU) / (m**2 * S**2 + 1 - m**2)


class ExactNoisePrediction(torch.nn.Module):
    """Stands in for a UNet: the noise eps = -std(t) * score, at network label 999 t."""

    def __init__(self, channels: int = 1, size: int = 4) -> None:
        super().__init__()
        self.config = SimpleNamespace(sample_size=size, in_channels=channels)
        self.labels: list[torch.Tensor] = []

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> SimpleNamespace:
        self.labels.append(label)
        t = (label / 999.0).reshape(-1, *([1] * (x.ndim - 1)))
        std = torch.sqrt(1 - _mean_scale(t) ** 2)
        return SimpleNamespace(sample=-std * exact_score(x, t))


def _pipeline(model: ExactNoisePrediction) -> ScoreSdeVpPipeline:
    scheduler = ScoreSdeVpScheduler(beta_min=BETA_MIN, beta_max=BETA_MAX, sampling_eps=EPS)
    pipe = ScoreSdeVpPipeline(unet=model, scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _paper_sampler(shape: tuple[int, ...], steps: int, seed: int) -> torch.Tensor:
    """Euler-Maruyama on dx = [-b x / 2 - b score] dt + sqrt(b) dw_bar, dt = -1/N, from
    x(1) ~ N(0, I); returns the last step's mean mapped from [-1, 1] to [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator)
    mean = x
    for t in torch.linspace(1, EPS, steps):
        beta = BETA_MIN + t * (BETA_MAX - BETA_MIN)
        mean = x + (0.5 * beta * x + beta * exact_score(x, t)) / steps
        x = mean + math.sqrt(beta / steps) * torch.randn(shape, generator=generator)
    return (mean / 2 + 0.5).clamp(0, 1)


def test_each_step_is_the_papers_reverse_sde_update():
    model = ExactNoisePrediction()
    pipe = _pipeline(model)
    steps = 40
    images = pipe(
        batch_size=3,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(0),
        output_type="pt",
    ).images
    expected = _paper_sampler((3, 1, 4, 4), steps, seed=0)
    torch.testing.assert_close(images, expected, atol=1e-5, rtol=1e-5)
    assert float(images.min()) > 0.0 and float(images.max()) < 1.0
    times = torch.linspace(1, EPS, steps)
    assert len(model.labels) == steps
    for label, t in zip(model.labels, times, strict=True):
        torch.testing.assert_close(label, torch.full((3,), 999.0 * float(t)))


def test_samples_follow_the_data_distribution():
    pipe = _pipeline(ExactNoisePrediction(channels=1, size=8))
    images = pipe(
        batch_size=128,
        num_inference_steps=500,
        generator=torch.Generator().manual_seed(1),
        output_type="pt",
    ).images
    samples = images * 2 - 1
    assert abs(float(samples.mean()) - MU) < 0.01
    assert abs(float(samples.std()) - S) < 0.01
