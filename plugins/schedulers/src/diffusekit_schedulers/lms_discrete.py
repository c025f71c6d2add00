"""Linear multistep sampler of the probability-flow ODE in sigma."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from ._base import KDiffusionConfig, SigmaScheduler, output
from ._prediction import denoised
from ._sigmas import chosen_ramp, sigmas_from_alphas_cumprod


def lms_coefficient(sigmas: list[float], i: int, order: int, j: int) -> float:
    """Integral over [sigma_i, sigma_{i+1}] of the Lagrange basis polynomial through
    sigma_i, ..., sigma_{i-order+1} that is 1 at sigma_{i-j} (Adams-Bashforth in sigma)."""
    nodes = [sigmas[i - k] for k in range(order)]
    basis = np.poly1d([1.0])
    for k, node in enumerate(nodes):
        if k != j:
            basis = basis * np.poly1d([1.0, -node]) / (nodes[j] - node)
    antiderivative = np.polyint(basis)
    return float(antiderivative(sigmas[i + 1]) - antiderivative(sigmas[i]))


class LMSDiscreteScheduler(SigmaScheduler):
    """Linear multistep (Adams-Bashforth) integration of the probability-flow ODE
    dx/dsigma = (x - D(x; sigma)) / sigma of Karras et al. 2022, arXiv:2206.00364, eq. 4,
    as in k-diffusion's `sample_lms` (Crowson); linear multistep methods after
    Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models on Manifolds"::

        d_i     = (x_i - D(x_i; sigma_i)) / sigma_i
        x_{i+1} = x_i + sum_j c_{ij} d_{i-j},  c_{ij} = integral of the Lagrange basis l_j
    """

    config_class = KDiffusionConfig
    step_options: ClassVar[frozenset[str]] = frozenset({"order"})

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        chosen_ramp(self.config)
        n = self.config.num_train_timesteps
        train = sigmas_from_alphas_cumprod(self.alphas_cumprod)
        timesteps = np.linspace(0, n - 1, n, dtype=np.float32)[::-1].copy()
        self._set_schedule(timesteps, np.append(train[::-1], 0.0), None)
        self.derivatives: list[torch.Tensor] = []
        self._coefficients: dict[tuple[int, int], list[float]] = {}

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        self.num_inference_steps = num_inference_steps
        steps, sigmas = self._spaced_schedule(num_inference_steps)
        self._set_schedule(steps, np.append(sigmas, 0.0), device)
        self.derivatives = []
        self._coefficients = {}
        for i in range(num_inference_steps):
            self._lms_coefficients(i, min(i + 1, 4))

    def get_lms_coefficient(self, order: int, t: int, current_order: int) -> float:
        return lms_coefficient(self._sigma_values, t, order, current_order)

    def _lms_coefficients(self, i: int, order: int) -> list[float]:
        key = (i, order)
        if key not in self._coefficients:
            self._coefficients = {
                **self._coefficients,
                key: [lms_coefficient(self._sigma_values, i, order, j) for j in range(order)],
            }
        return self._coefficients[key]

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        order: int = 4,
        return_dict: bool = True,
    ) -> Any:
        i = self._current_index(timestep)
        sigma = self._sigma_values[i]
        x0 = denoised(self.config.prediction_type, model_output, sample, sigma)
        self.derivatives = [*self.derivatives, (sample - x0) / sigma][-order:]
        coefficients = self._lms_coefficients(i, min(i + 1, order))
        prev_sample = sample + sum(c * d for c, d in zip(coefficients, reversed(self.derivatives)))
        self._step_index = i + 1
        return output(prev_sample, x0, return_dict)
