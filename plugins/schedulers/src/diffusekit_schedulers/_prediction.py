"""What the network predicts, converted to the clean sample x0 and the noise eps.

Variance-preserving form (Ho et al. 2020; v from Salimans & Ho 2022, "Progressive
Distillation", section 4): x_t = sqrt(a) x0 + sqrt(1 - a) eps, v = sqrt(a) eps - sqrt(1 - a) x0,
with a = alpha_bar_t.

Variance-exploding form (Karras et al. 2022, table 1): x = x0 + sigma eps, and the network sees
x / sqrt(sigma^2 + 1).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

PredictionType = Literal["epsilon", "v_prediction", "sample"]


def _unknown(prediction_type: str, allowed: tuple[str, ...]) -> ValueError:
    return ValueError(
        f"prediction_type: expected one of {list(allowed)}, found {prediction_type!r}"
    )


def x0_and_eps(
    prediction_type: str,
    model_output: torch.Tensor,
    sample: torch.Tensor,
    sqrt_a: float | torch.Tensor,
    sqrt_1ma: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0, eps) from a VP network output, given sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t).

    Pass the scales as computed on the float32 schedule (`BetaScheduler.vp_scales`): near
    alpha_bar = 0 the division amplifies any difference in their last bit.
    """
    if prediction_type == "epsilon":
        return (sample - sqrt_1ma * model_output) / sqrt_a, model_output
    if prediction_type == "sample":
        return model_output, (sample - sqrt_a * model_output) / sqrt_1ma
    if prediction_type == "v_prediction":
        return sqrt_a * sample - sqrt_1ma * model_output, sqrt_a * model_output + sqrt_1ma * sample
    raise _unknown(prediction_type, ("epsilon", "sample", "v_prediction"))


def eps_from_x0(
    x0: torch.Tensor,
    sample: torch.Tensor,
    sqrt_a: float | torch.Tensor,
    sqrt_1ma: float | torch.Tensor,
) -> torch.Tensor:
    return (sample - sqrt_a * x0) / sqrt_1ma


def denoised(
    prediction_type: str,
    model_output: torch.Tensor,
    sample: torch.Tensor,
    sigma: float | torch.Tensor,
) -> torch.Tensor:
    """x0 from a network output at noise level `sigma`, in the variance-exploding form."""
    if prediction_type == "epsilon":
        return sample - sigma * model_output
    if prediction_type == "v_prediction":
        if isinstance(sigma, torch.Tensor):
            scale = sigma**2 + 1
            return model_output * (-sigma / scale**0.5) + sample / scale
        s = np.float32(sigma)
        scale = s * s + np.float32(1)
        return model_output * float(-s / np.sqrt(scale)) + sample / float(scale)
    if prediction_type == "sample":
        return model_output
    raise _unknown(prediction_type, ("epsilon", "sample", "v_prediction"))


def input_scale(sigma: float | torch.Tensor) -> float | torch.Tensor:
    """c_in of Karras et al. 2022 for the VP-trained network: 1 / sqrt(sigma^2 + 1)."""
    return 1 / (sigma**2 + 1) ** 0.5
