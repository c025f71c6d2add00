"""diffusekit-unconditional: pipelines that sample images or audio from noise alone.

DDPM, DDIM, PNDM, score-SDE (VE predictor-corrector and VP Euler-Maruyama), Karras et al.'s
stochastic sampler, unconditional latent diffusion and Dance Diffusion. Each runs its loop in
`diffusekit.kernel`. Names load lazily (PEP 562): importing the package loads no torch.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path
from typing import Any

_EXPORTS = {
    "DDPMPipeline": "ddpm",
    "DDIMPipeline": "ddim",
    "PNDMPipeline": "pndm",
    "ScoreSdeVePipeline": "score_sde_ve",
    "ScoreSdeVpPipeline": "score_sde_vp",
    "KarrasVePipeline": "karras_ve",
    "LDMPipeline": "ldm",
    "DanceDiffusionPipeline": "dance_diffusion",
}

__all__ = sorted([*_EXPORTS, "default_model_path"])


def default_model_path() -> Path:
    """The folder of the small DDIM checkpoint shipped with this package (`diffusekit generate`).

    Raises FileNotFoundError when the installed package does not contain it.
    """
    folder = resources.files(__name__) / "default_model"
    if not isinstance(folder, Path):
        raise FileNotFoundError(
            f"{__name__}: default_model is packed in {folder!r}, not a folder on disk; "
            "install diffusekit-unconditional from a wheel or source tree"
        )
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(
            f"{folder / 'model_index.json'}: the default model is not installed with "
            f"{__name__}; reinstall diffusekit-unconditional"
        )
    return folder


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
