"""Checkpoints the benchmarks load, written once by the reference under bench/.cache/.

- `sd15()`: Stable Diffusion 1.5's full architecture (860M-parameter UNet, the SD VAE, the real
  SD 1.5 CLIP text-encoder shape, a 49,408-token CLIP BPE tokenizer, PNDM), random weights,
  fp32, about 4.3 GB. The real vocabulary is not available offline, so the tokenizer's
  vocabulary and merges are generated (letters and their concatenations) at the real size.
- `tiny-sd`: the tiny UNet and CLIP of diffusekit's test kit (configs in the reference's
  field names) with a 4-level VAE of 32/64 channels (scale factor 8, as in SD, so a 64x64
  image is an 8x8 latent), for small whole-pipeline calls.
- `micro-sd`: the same layout with an eighth of the channels (UNet 4/8, VAE 4/8, GroupNorm
  of 2 groups), so that a whole call is dominated by the libraries' own work around the
  kernels rather than by the kernels.

Each is built in a subprocess so the parent process never imports the reference.
"""

from __future__ import annotations

import itertools
import json
import string
import subprocess
import sys
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
SD15 = CACHE / "sd15"
TINY_SD = CACHE / "tiny-sd"
MICRO_SD = CACHE / "micro-sd"

VOCAB_SIZE = 49408
SD15_UNET = {"sample_size": 64, "cross_attention_dim": 768, "attention_head_dim": 8}
SD_VAE = {
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 512,
}
TINY_VAE = {
    "block_out_channels": [32, 32, 64, 64],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 1,
    "latent_channels": 4,
    "sample_size": 64,
}
SD15_TEXT_ENCODER = {
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
    "bos_token_id": 0,
    "eos_token_id": 1,
    "pad_token_id": 1,
}
SD15_SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
}


def bpe_files(folder: Path, size: int = VOCAB_SIZE) -> Path:
    """A CLIP BPE vocabulary of exactly `size` tokens: specials, letters, then merges."""
    letters = list(string.ascii_lowercase)
    tokens = ["<|startoftext|>", "<|endoftext|>", *letters, *(c + "</w>" for c in letters)]
    merges: list[str] = []
    stems = letters
    while len(tokens) < size:
        grown = []
        for stem, letter in itertools.product(stems, letters):
            for tail, made in ((letter, stem + letter), (letter + "</w>", stem + letter + "</w>")):
                if len(tokens) < size:
                    merges.append(f"{stem} {tail}")
                    tokens.append(made)
            grown.append(stem + letter)
        stems = grown
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = {token: index for index, token in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocabulary), encoding="utf-8")
    (folder / "merges.txt").write_text("\n".join(["#version: 0.2", *merges]) + "\n")
    return folder


def _write_sd15() -> None:
    import tempfile

    import torch
    from diffusers import (
        AutoencoderKL,
        PNDMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as vocabulary:
        tokenizer = CLIPTokenizer.from_pretrained(bpe_files(Path(vocabulary)), model_max_length=77)
        pipe = StableDiffusionPipeline(
            vae=AutoencoderKL(**SD_VAE),
            text_encoder=CLIPTextModel(CLIPTextConfig(**SD15_TEXT_ENCODER)),
            tokenizer=tokenizer,
            unet=UNet2DConditionModel(**SD15_UNET),
            scheduler=PNDMScheduler(**SD15_SCHEDULER),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.save_pretrained(SD15)


MICRO_UNET = {"block_out_channels": [4, 8], "norm_num_groups": 2}
MICRO_VAE = {"block_out_channels": [4, 4, 8, 8], "norm_num_groups": 2}


def _write_tiny_sd(
    folder: Path = TINY_SD, unet: dict | None = None, vae: dict | None = None
) -> None:
    import tempfile

    import torch
    from diffusekit_stable_diffusion import tiny
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as vocabulary:
        tiny.write_tokenizer_files(vocabulary)
        text_config = CLIPTextConfig(vocab_size=len(tiny.vocabulary()), **tiny.TEXT_ENCODER)
        pipe = StableDiffusionPipeline(
            vae=AutoencoderKL(**{**TINY_VAE, **(vae or {})}),
            text_encoder=CLIPTextModel(text_config),
            tokenizer=CLIPTokenizer.from_pretrained(vocabulary, model_max_length=77),
            unet=UNet2DConditionModel(**{**tiny.unet_config("sd1"), **(unet or {})}),
            scheduler=DDIMScheduler(**tiny.scheduler_config("sd1")),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.save_pretrained(folder)


def _write_micro_sd() -> None:
    _write_tiny_sd(MICRO_SD, MICRO_UNET, MICRO_VAE)


WRITERS = {
    "sd15": (SD15, _write_sd15),
    "tiny-sd": (TINY_SD, _write_tiny_sd),
    "micro-sd": (MICRO_SD, _write_micro_sd),
}


def ensure(name: str) -> Path:
    """The checkpoint folder `name`, written by the reference in a subprocess if missing."""
    folder, _ = WRITERS[name]
    if not (folder / "model_index.json").is_file():
        subprocess.run([sys.executable, __file__, name], check=True)
    return folder


if __name__ == "__main__":
    WRITERS[sys.argv[1]][1]()
