"""Tiny component configurations of the unconditional tests: plain dicts, so the parity tests
build the reference's models from the same ones (nothing here imports a model library)."""

from __future__ import annotations

import math

UNET = {
    "sample_size": 8,
    "in_channels": 3,
    "out_channels": 3,
    "layers_per_block": 1,
    "block_out_channels": (8, 16),
    "norm_num_groups": 4,
    "attention_head_dim": 8,
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
}

LATENT_UNET = {**UNET, "in_channels": 3, "out_channels": 3, "sample_size": 4}

NCSNPP = {
    "sample_size": 8,
    "in_channels": 3,
    "out_channels": 3,
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
    "in_channels": 3,
    "out_channels": 3,
    "block_out_channels": (8, 16),
    "norm_num_groups": 4,
    "layers_per_block": 1,
    "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
    "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
    "latent_channels": 3,
    "num_vq_embeddings": 16,
    "sample_size": 8,
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
