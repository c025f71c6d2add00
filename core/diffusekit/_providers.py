"""Which distribution to suggest when nobody provides a name.

A small, hand-kept table: the plugins this project publishes and the libraries they serve.
Third-party plugins are found through their entry points; this table is only for hints.
"""

from __future__ import annotations

_SCHEDULERS = [
    "DDPMScheduler",
    "DDIMScheduler",
    "PNDMScheduler",
    "LMSDiscreteScheduler",
    "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "HeunDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler",
    "KDPM2DiscreteScheduler",
    "KDPM2AncestralDiscreteScheduler",
    "UniPCMultistepScheduler",
    "DEISMultistepScheduler",
    "IPNDMScheduler",
    "ScoreSdeVeScheduler",
    "ScoreSdeVpScheduler",
    "KarrasVeScheduler",
]
_MODELS = ["UNet2DConditionModel", "UNet2DModel", "UNet1DModel", "AutoencoderKL", "VQModel"]
_UNCONDITIONAL = [
    "DDPMPipeline",
    "DDIMPipeline",
    "PNDMPipeline",
    "ScoreSdeVePipeline",
    "ScoreSdeVpPipeline",
    "KarrasVePipeline",
    "LDMPipeline",
    "DanceDiffusionPipeline",
]
_STABLE_DIFFUSION = [
    "StableDiffusionPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionInpaintPipeline",
    "StableDiffusionUpscalePipeline",
    "StableDiffusionPipelineSafe",
]

_BY_CLASS: dict[tuple[str, str], str] = {
    **{("diffusers", name): "diffusekit-schedulers" for name in _SCHEDULERS},
    **{("diffusers", name): "diffusekit-models" for name in _MODELS},
    **{("diffusers", name): "diffusekit-unconditional" for name in _UNCONDITIONAL},
    **{("diffusers", name): "diffusekit-stable-diffusion" for name in _STABLE_DIFFUSION},
}
_BY_LIBRARY: dict[str, str] = {
    "transformers": "diffusekit-transformers",
    "stable_diffusion": "diffusekit-stable-diffusion",
    "stable_diffusion_safe": "diffusekit-stable-diffusion",
}


def install_hint(library: str, class_name: str) -> str | None:
    """The distribution that would provide `library.class_name`, if we know one."""
    return _BY_CLASS.get((library, class_name)) or _BY_LIBRARY.get(library)
