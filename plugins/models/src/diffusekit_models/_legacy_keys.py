"""State-dict renames for checkpoints written before attention layers took their current names.

Early Diffusers checkpoints (e.g. the DDPM, NCSN++ and LDM conversions of 2022) name a spatial
self-attention's projections ``query``, ``key``, ``value`` and ``proj_attn``; today they are
``to_q``, ``to_k``, ``to_v`` and ``to_out.0``. Applied only to keys the model does not have.
"""

from __future__ import annotations

_OLD_TO_NEW = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}

DEPRECATED_ATTENTION_RENAMES: tuple[tuple[str, str], ...] = tuple(
    (rf"^(.*attentions\.\d+)\.{old}\.(weight|bias)$", rf"\1.{new}.\2")
    for old, new in _OLD_TO_NEW.items()
)

#: NCSN++ conversions stored the Gaussian Fourier projection as ``W`` (besides, or instead of,
#: ``weight``).
FOURIER_PROJECTION_RENAMES: tuple[tuple[str, str], ...] = ((r"^time_proj\.W$", "time_proj.weight"),)
