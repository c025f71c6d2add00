"""Scalar arithmetic rounded like float32 tensors.

Schedules are float32 tensors, and where a step divides by a small number (x0 at high
noise, Euler at large sigma) the last bit of a scalar coefficient shows up in the result.
Computing per-step scalars in float32 keeps our numbers equal to a float32 implementation
of the same formula, instead of merely close.
"""

from __future__ import annotations

import numpy as np

f32 = np.float32
