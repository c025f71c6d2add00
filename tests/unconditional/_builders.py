"""Tiny random pipelines of every class in diffusekit-unconditional (no reference needed)."""

from __future__ import annotations

import math
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

UNET = {
    "sample_size": 8,
    "layers_per_block": 1,
    "block_out_channels": (8, 16),
    "norm_num_groups": 4,
    "attention_head_dim": 8,
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
}

NCSNPP = {
    "sample_size": 8,
    "layers_per_block": 1,
    "block_out_channels": (32, 32),
    "time_embedding_type": "fourier",
    "norm_eps": 1e-6,
    "mid_block_scale_factor": math.sqrt(2.0),
    "norm_num_groups": None,
    "down_block_types": ("SkipDownBlock2D", "AttnSkipDownBlock2D"),
    "up_block_types": ("AttnSkipUpBlock2D", "SkipUpBlock2D"),
}

VQ = {
    "block_out_channels": (8, 16),
    "norm_num_groups": 4,
    "layers_per_block": 1,
    "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
    "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
    "latent_channels": 3,
    "num_vq_embeddings": 16,
}

DANCE = {
    "block_out_channels": (32, 32, 64),
    "extra_in_channels": 16,
    "time_embedding_dim": 16,
    "sample_size": 64,
    "sample_rate": 16_000,
    "in_channels": 2,
    "out_channels": 2,
    "flip_sin_to_cos": True,
    "use_timestep_embedding": False,
    "time_embedding_type": "fourier",
    "mid_block_type": "UNetMidBlock1D",
    "down_block_types": ("DownBlock1DNoSkip", "DownBlock1D", "AttnDownBlock1D"),
    "up_block_types": ("AttnUpBlock1D", "UpBlock1D", "UpBlock1DNoSkip"),
}


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
    unet = _unet({**UNET, "sample_size": 4})
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
