"""UNet2DModel against the reference: tiny checkpoints it writes load and give its numbers.

Configurations mirror the reference's own tests and the layouts of DDPM (google/ddpm-cifar10-32),
NCSN++ (google/ncsnpp-celebahq-256), unconditional LDM (CompVis/ldm-celebahq-256) and
class-conditional consistency-model U-Nets, shrunk to a few thousand weights.
"""

from __future__ import annotations

import math

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit_models.unet_2d import UNet2DModel  # noqa: E402

from ._reference_io import assert_close, load_like_reference  # noqa: E402

pytestmark = pytest.mark.parity

NCSNPP = {
    "block_out_channels": [32, 64, 64, 64],
    "in_channels": 3,
    "layers_per_block": 1,
    "out_channels": 3,
    "time_embedding_type": "fourier",
    "norm_eps": 1e-6,
    "mid_block_scale_factor": math.sqrt(2.0),
    "norm_num_groups": None,
    "down_block_types": [
        "SkipDownBlock2D",
        "AttnSkipDownBlock2D",
        "SkipDownBlock2D",
        "SkipDownBlock2D",
    ],
    "up_block_types": ["SkipUpBlock2D", "SkipUpBlock2D", "AttnSkipUpBlock2D", "SkipUpBlock2D"],
}

CONFIGS: dict[str, tuple[dict, int]] = {
    "reference-unit-test": (
        {
            "block_out_channels": (4, 8),
            "norm_num_groups": 2,
            "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
            "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
            "attention_head_dim": 3,
            "out_channels": 3,
            "in_channels": 3,
            "layers_per_block": 2,
            "sample_size": 16,
        },
        16,
    ),
    "ddpm-cifar10-layout": (
        {
            "sample_size": 16,
            "block_out_channels": (32, 64, 64, 64),
            "down_block_types": ("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
            "up_block_types": ("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
            "attention_head_dim": None,
            "layers_per_block": 1,
            "norm_eps": 1e-6,
            "freq_shift": 1,
            "flip_sin_to_cos": False,
            "downsample_padding": 0,
            "dropout": 0.1,
        },
        16,
    ),
    "ldm-uncond-layout": (
        {
            "sample_size": 16,
            "in_channels": 4,
            "out_channels": 4,
            "layers_per_block": 2,
            "block_out_channels": (32, 64, 64),
            "attention_head_dim": 32,
            "down_block_types": ("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
            "up_block_types": ("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        },
        16,
    ),
    "ncsnpp": (NCSNPP, 32),
    "ncsnpp-scale-shift-layers-2": (
        {**NCSNPP, "resnet_time_scale_shift": "scale_shift", "layers_per_block": 2},
        16,
    ),
    "class-conditional-resnet-resampling": (
        {
            "sample_size": 16,
            "block_out_channels": (32, 64),
            "down_block_types": ("AttnDownBlock2D", "AttnDownBlock2D"),
            "up_block_types": ("AttnUpBlock2D", "AttnUpBlock2D"),
            "attention_head_dim": 16,
            "layers_per_block": 1,
            "downsample_type": "resnet",
            "upsample_type": "resnet",
            "resnet_time_scale_shift": "scale_shift",
            "num_class_embeds": 10,
            "attn_norm_num_groups": 8,
        },
        16,
    ),
    "consistency-layout-resnet-resample-blocks": (
        {
            "sample_size": 16,
            "block_out_channels": (32, 64, 64),
            "down_block_types": ("ResnetDownsampleBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
            "up_block_types": ("AttnUpBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D"),
            "attention_head_dim": 32,
            "layers_per_block": 2,
            "downsample_type": "resnet",
            "upsample_type": "resnet",
            "resnet_time_scale_shift": "scale_shift",
            "num_class_embeds": 10,
            "norm_eps": 1e-5,
        },
        16,
    ),
    "timestep-class-embedding-centered-no-mid-attention": (
        {
            "sample_size": 8,
            "block_out_channels": (32, 32),
            "down_block_types": ("DownBlock2D", "DownBlock2D"),
            "up_block_types": ("UpBlock2D", "UpBlock2D"),
            "layers_per_block": 1,
            "class_embed_type": "timestep",
            "center_input_sample": True,
            "add_attention": False,
        },
        8,
    ),
    "identity-class-embedding-learned-time-no-mid": (
        {
            "sample_size": 8,
            "block_out_channels": (32, 32),
            "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
            "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
            "layers_per_block": 1,
            "class_embed_type": "identity",
            "time_embedding_type": "learned",
            "num_train_timesteps": 50,
            "mid_block_type": None,
            "time_embedding_dim": 64,
        },
        8,
    ),
}


def _inputs(name: str, config: dict, size: int):
    generator = torch.Generator().manual_seed(1)
    batch = 2
    sample = torch.randn(batch, config.get("in_channels", 3), size, size, generator=generator)
    if config.get("time_embedding_type") == "fourier":
        timestep = torch.tensor([0.05, 30.0])
    else:
        timestep = torch.tensor([3, 47])
    labels = None
    if config.get("num_class_embeds"):
        labels = torch.tensor([1, 7])
    elif config.get("class_embed_type") == "timestep":
        labels = torch.tensor([5, 20])
    elif config.get("class_embed_type") == "identity":
        width = config.get("time_embedding_dim") or 4 * config["block_out_channels"][0]
        labels = torch.randn(batch, width, generator=generator)
    return sample, timestep, labels


@pytest.mark.parametrize("name", list(CONFIGS))
def test_reference_checkpoint_loads_and_matches(name, tmp_path):
    config, size = CONFIGS[name]
    torch.manual_seed(0)
    reference = diffusers.UNet2DModel(**config).eval()
    ours = load_like_reference(UNet2DModel, reference, tmp_path)
    sample, timestep, labels = _inputs(name, config, size)
    with torch.no_grad():
        expected = reference(sample, timestep, class_labels=labels).sample
        got = ours(sample, timestep, class_labels=labels).sample
    scale = max(1.0, expected.abs().max().item())
    assert_close(got / scale, expected / scale)


def test_scalar_timestep_matches_reference(tmp_path):
    config, size = CONFIGS["ldm-uncond-layout"]
    torch.manual_seed(0)
    reference = diffusers.UNet2DModel(**config).eval()
    ours = load_like_reference(UNet2DModel, reference, tmp_path)
    sample = torch.randn(3, 4, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert_close(ours(sample, 17).sample, reference(sample, 17).sample)


def test_saved_by_us_loads_in_reference(tmp_path):
    ours = UNet2DModel(**NCSNPP).eval()
    ours.save_pretrained(tmp_path)
    reference = diffusers.UNet2DModel.from_pretrained(tmp_path).eval()
    sample = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    sigma = torch.tensor([2.0])
    with torch.no_grad():
        assert_close(ours(sample, sigma).sample, reference(sample, sigma).sample)


def test_checkpoint_with_deprecated_attention_names_loads(tmp_path):
    from safetensors.torch import load_file, save_file

    config, size = CONFIGS["ldm-uncond-layout"]
    torch.manual_seed(0)
    reference = diffusers.UNet2DModel(**config).eval()
    reference.save_pretrained(tmp_path)
    weights_file = tmp_path / "diffusion_pytorch_model.safetensors"
    old_names = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    renamed = {}
    for key, value in load_file(weights_file).items():
        for new, old in old_names.items():
            key = key.replace(f".{new}.", f".{old}.")
        renamed[key] = value
    assert any(".proj_attn." in key for key in renamed)
    save_file(renamed, weights_file)

    ours = UNet2DModel.from_pretrained(tmp_path).eval()
    sample, timestep, _ = _inputs("ldm-uncond-layout", config, size)
    with torch.no_grad():
        assert_close(ours(sample, timestep).sample, reference(sample, timestep).sample)


def test_unet_loads_from_a_reference_pipeline_folder(tmp_path):
    config, size = CONFIGS["ddpm-cifar10-layout"]
    torch.manual_seed(0)
    reference = diffusers.UNet2DModel(**config).eval()
    diffusers.DDPMPipeline(unet=reference, scheduler=diffusers.DDPMScheduler()).save_pretrained(
        tmp_path
    )
    ours = UNet2DModel.from_pretrained(tmp_path, subfolder="unet").eval()
    sample, timestep, _ = _inputs("ddpm-cifar10-layout", config, size)
    with torch.no_grad():
        assert_close(ours(sample, timestep).sample, reference(sample, timestep).sample)
