"""Tiny random pipelines of every class in diffusekit-unconditional (no reference needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusekit_models.unet_1d import UNet1DModel
from diffusekit_models.unet_2d import UNet2DModel
from diffusekit_models.vq_model import VQModel
from diffusekit_schedulers import (
    DDIMScheduler,
    DDPMScheduler,
    IPNDMScheduler,
    KarrasVeScheduler,
    PNDMScheduler,
    ScoreSdeVeScheduler,
    ScoreSdeVpScheduler,
)
from diffusekit_unconditional import (
    DanceDiffusionPipeline,
    DDIMPipeline,
    DDPMPipeline,
    KarrasVePipeline,
    LDMPipeline,
    PNDMPipeline,
    ScoreSdeVePipeline,
    ScoreSdeVpPipeline,
)

from ._configs import DANCE, LATENT_UNET, NCSNPP, UNET, VQ


def _unet(config: dict[str, Any] = UNET) -> UNet2DModel:
    torch.manual_seed(0)
    return UNet2DModel(**config).eval()


def ddpm() -> DDPMPipeline:
    return DDPMPipeline(unet=_unet(), scheduler=DDPMScheduler(num_train_timesteps=100))


def ddim() -> DDIMPipeline:
    return DDIMPipeline(unet=_unet(), scheduler=DDIMScheduler(num_train_timesteps=100))


def pndm() -> PNDMPipeline:
    return PNDMPipeline(unet=_unet(), scheduler=PNDMScheduler(num_train_timesteps=100))


def score_sde_ve() -> ScoreSdeVePipeline:
    scheduler = ScoreSdeVeScheduler(sigma_max=0.5, sigma_min=0.1, snr=0.05)
    return ScoreSdeVePipeline(unet=_unet(NCSNPP), scheduler=scheduler)


def score_sde_vp() -> ScoreSdeVpPipeline:
    return ScoreSdeVpPipeline(unet=_unet(), scheduler=ScoreSdeVpScheduler())


def karras_ve() -> KarrasVePipeline:
    scheduler = KarrasVeScheduler(sigma_max=2.0, s_churn=40.0, s_max=1.0)
    return KarrasVePipeline(unet=_unet(), scheduler=scheduler)


def ldm() -> LDMPipeline:
    torch.manual_seed(1)
    vqvae = VQModel(**VQ).eval()
    unet = _unet(LATENT_UNET)
    return LDMPipeline(vqvae=vqvae, unet=unet, scheduler=DDIMScheduler(num_train_timesteps=100))


def dance() -> DanceDiffusionPipeline:
    torch.manual_seed(0)
    return DanceDiffusionPipeline(unet=UNet1DModel(**DANCE).eval(), scheduler=IPNDMScheduler())


IMAGE_PIPELINES: dict[str, tuple[Callable[[], Any], dict[str, Any]]] = {
    "ddpm": (ddpm, {"num_inference_steps": 3}),
    "ddim": (ddim, {"num_inference_steps": 3}),
    "pndm": (pndm, {"num_inference_steps": 4}),
    "score-sde-ve": (score_sde_ve, {"num_inference_steps": 3}),
    "score-sde-vp": (score_sde_vp, {"num_inference_steps": 3}),
    "karras-ve": (karras_ve, {"num_inference_steps": 3}),
    "ldm": (ldm, {"num_inference_steps": 3}),
}


def quiet(pipe: Any) -> Any:
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generators(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]
