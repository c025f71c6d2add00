"""Tiny Stable Diffusion checkpoints, built offline: for tests, examples and plugin authors.

The configurations are plain dicts in the reference's field names, so the reference's classes
accept them too (parity tests build the same tiny pipeline on both sides). The UNet has
(32, 64) channels and cross-attention width 32, the VAE two blocks (scale factor 2), the
text encoder two 32-wide CLIP layers, and the tokenizer a CLIP BPE over single letters:
images are 16 x 16 pixels by default. Weights are random; the outputs are noise-like.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import torch

Kind = Literal["sd1", "sd2", "inpainting", "inpainting-sd2"]

LETTERS = "abcdefghijklmnopqrstuvwxyz"
MERGES = ("h e", "l l", "he ll", "hell o</w>")
SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")

UNET: dict[str, Any] = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "attention_head_dim": [2, 4],
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "norm_num_groups": 32,
}
"""Stable Diffusion 1.x layout (convolutional projections in the transformer blocks)."""

SD2_UNET: dict[str, Any] = {"use_linear_projection": True, "upcast_attention": True}
"""What Stable Diffusion 2.x changes in the UNet."""

VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "block_out_channels": [32, 64],
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
    "latent_channels": 4,
    "sample_size": 16,
}

SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}
"""Stable Diffusion's DDIM settings; SD 2 adds ``prediction_type="v_prediction"``."""

TEXT_ENCODER: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 77,
    "bos_token_id": 0,
    "eos_token_id": 1,
    "pad_token_id": 1,
}


def vocabulary() -> dict[str, int]:
    tokens = [*SPECIAL_TOKENS, *LETTERS, *(c + "</w>" for c in LETTERS), "he", "ll", "hell"]
    return {token: index for index, token in enumerate([*tokens, "hello</w>"])}


def write_tokenizer_files(folder: str | os.PathLike[str]) -> Path:
    """Write ``vocab.json`` and ``merges.txt`` of the tiny CLIP BPE into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocabulary()), encoding="utf-8")
    merges = "\n".join(["#version: 0.2", *MERGES]) + "\n"
    (folder / "merges.txt").write_text(merges, encoding="utf-8")
    return folder


def unet_config(kind: Kind = "sd1") -> dict[str, Any]:
    config = dict(UNET)
    if kind in ("sd2", "inpainting-sd2"):
        config.update(SD2_UNET)
    if kind.startswith("inpainting"):
        config["in_channels"] = 9
    return config


def scheduler_config(kind: Kind = "sd1") -> dict[str, Any]:
    config = dict(SCHEDULER)
    if kind in ("sd2", "inpainting-sd2"):
        config["prediction_type"] = "v_prediction"
    return config


def components(
    kind: Kind = "sd1", seed: int = 0, tokenizer_folder: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """diffusekit components of a tiny pipeline (no safety checker), seeded by `seed`.

    The tokenizer is built from files written to `tokenizer_folder` (a temporary folder
    by default).
    """
    import tempfile

    from diffusekit_models import AutoencoderKL, UNet2DConditionModel
    from diffusekit_schedulers.ddim import DDIMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = tokenizer_folder or tempfile.mkdtemp(prefix="tiny-sd-tokenizer-")
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**unet_config(kind)).eval()
    torch.manual_seed(seed)
    vae = AutoencoderKL(**VAE).eval()
    torch.manual_seed(seed)
    text_config = CLIPTextConfig(vocab_size=len(vocabulary()), **TEXT_ENCODER)
    text_encoder = CLIPTextModel(text_config).eval()
    tokenizer = CLIPTokenizer.from_pretrained(write_tokenizer_files(folder), model_max_length=77)
    return {
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "unet": unet,
        "scheduler": DDIMScheduler(**scheduler_config(kind)),
        "safety_checker": None,
        "feature_extractor": None,
        "requires_safety_checker": False,
    }


def save_tiny_checkpoint(folder: str | os.PathLike[str], kind: Kind = "sd1", seed: int = 0) -> Path:
    """Write a tiny Diffusers-format checkpoint of the matching pipeline class to `folder`."""
    import tempfile

    from .inpainting import StableDiffusionInpaintPipeline
    from .text_to_image import StableDiffusionPipeline

    folder = Path(folder)
    cls = (
        StableDiffusionInpaintPipeline if kind.startswith("inpainting") else StableDiffusionPipeline
    )
    with tempfile.TemporaryDirectory() as vocabulary_folder:
        cls(**components(kind, seed, vocabulary_folder)).save_pretrained(folder)
    return folder
