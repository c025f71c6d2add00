"""A tiny x4 upscaler checkpoint, built offline: for tests and examples.

Like `tiny`, the configurations are plain dicts in the reference's field names, so the
reference's classes accept them too. The VAE has three blocks (scale factor 4), the UNet takes
7 channels (4 latent + 3 image) and embeds the noise level as a class label; text encoder and
tokenizer are `tiny`'s. An 8 x 8 image upscales to 32 x 32. Weights are random.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from . import tiny

MAX_NOISE_LEVEL = 350

UNET: dict[str, Any] = {
    **tiny.UNET,
    "in_channels": 7,
    "num_class_embeds": MAX_NOISE_LEVEL + 1,
    "use_linear_projection": True,
}

VAE: dict[str, Any] = {
    **tiny.VAE,
    "block_out_channels": [32, 32, 64],
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "scaling_factor": 0.08333,
    "sample_size": 32,
}

LOW_RES_SCHEDULER: dict[str, Any] = {
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "scaled_linear",
}
"""The x4 upscaler's DDPM noise schedule for the low-resolution image."""

SCHEDULER: dict[str, Any] = {
    **LOW_RES_SCHEDULER,
    "prediction_type": "v_prediction",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}
"""The x4 upscaler's DDIM settings."""


def components(seed: int = 0, tokenizer_folder: str | os.PathLike[str] | None = None) -> dict:
    """diffusekit components of a tiny upscaler (no safety checker), seeded by `seed`."""
    from diffusekit_models import AutoencoderKL, UNet2DConditionModel
    from diffusekit_schedulers.ddim import DDIMScheduler
    from diffusekit_schedulers.ddpm import DDPMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = tokenizer_folder or tempfile.mkdtemp(prefix="tiny-upscaler-tokenizer-")
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**UNET).eval()
    torch.manual_seed(seed)
    vae = AutoencoderKL(**VAE).eval()
    torch.manual_seed(seed)
    text_config = CLIPTextConfig(vocab_size=len(tiny.vocabulary()), **tiny.TEXT_ENCODER)
    text_encoder = CLIPTextModel(text_config).eval()
    tokenizer = CLIPTokenizer.from_pretrained(
        tiny.write_tokenizer_files(folder), model_max_length=77
    )
    return {
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "unet": unet,
        "low_res_scheduler": DDPMScheduler(**LOW_RES_SCHEDULER),
        "scheduler": DDIMScheduler(**SCHEDULER),
        "max_noise_level": MAX_NOISE_LEVEL,
    }


def save_tiny_checkpoint(folder: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write a tiny Diffusers-format upscaler checkpoint to `folder`."""
    from .upscale import StableDiffusionUpscalePipeline

    folder = Path(folder)
    with tempfile.TemporaryDirectory() as vocabulary_folder:
        StableDiffusionUpscalePipeline(**components(seed, vocabulary_folder)).save_pretrained(
            folder
        )
    return folder
