"""Which training timesteps an inference schedule of n steps visits.

"Common Diffusion Noise Schedules and Sample Steps are Flawed" (Lin et al. 2023), Table 2,
names the three spacings: linspace, leading and trailing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

TimestepSpacing = Literal["linspace", "leading", "trailing"]


def spaced_timesteps(
    spacing: str,
    num_inference_steps: int,
    num_train_timesteps: int,
    steps_offset: int = 0,
    *,
    integer: bool,
) -> np.ndarray:
    """Descending timesteps. `integer` rounds linspace and returns int64, else float32."""
    n, big_t = num_inference_steps, num_train_timesteps
    if spacing == "linspace":
        steps = np.linspace(0, big_t - 1, n)
        steps = steps.round() if integer else steps
    elif spacing == "leading":
        steps = (np.arange(0, n) * (big_t // n)).round() + steps_offset
    elif spacing == "trailing":
        steps = np.round(np.arange(big_t, 0, -big_t / n)) - 1
    else:
        raise ValueError(
            f"timestep_spacing: expected 'linspace', 'leading' or 'trailing', found {spacing!r}"
        )
    if spacing != "trailing":
        steps = steps[::-1]
    return np.ascontiguousarray(steps).astype(np.int64 if integer else np.float32)


def check_num_inference_steps(num_inference_steps: int, num_train_timesteps: int) -> None:
    if num_inference_steps > num_train_timesteps:
        raise ValueError(
            f"set_timesteps: num_inference_steps={num_inference_steps} is larger than the "
            f"config's num_train_timesteps={num_train_timesteps}"
        )
