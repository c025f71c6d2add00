"""diffusekit-models: U-Nets, autoencoders and attention for Diffusers-format checkpoints.

Names are imported lazily (PEP 562), so importing the package costs nothing until a class is
used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Attention": "attention",
    "AttentionProcessor": "attention_processors",
    "AttnProcessor": "attention_processors",
    "AttnProcessor2_0": "attention_processors",
    "SlicedAttnProcessor": "attention_processors",
    "AutoencoderKL": "autoencoder_kl",
    "AutoencoderKLOutput": "autoencoder_kl",
    "DecoderOutput": "autoencoder_kl",
    "DiagonalGaussianDistribution": "vae",
    "Transformer2DModel": "transformer_2d",
    "UNet1DModel": "unet_1d",
    "UNet2DConditionModel": "unet_2d_condition",
    "UNet2DConditionOutput": "unet_2d_condition",
    "UNet2DModel": "unet_2d",
    "VQModel": "vq_model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'diffusekit_models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return __all__
