"""VQModel: the vector-quantized autoencoder of latent diffusion's VQ variants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pydantic
import torch

from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin
from diffusekit.outputs import BaseOutput

from ._activation import ActivationName
from ._legacy_keys import DEPRECATED_ATTENTION_RENAMES
from .attention_control import AttentionControlMixin
from .autoencoder_kl import DecoderOutput
from .conv import Conv2d
from .vae import Decoder, Encoder
from .vector_quantizer import VectorQuantizer

COMMITMENT_WEIGHT = 0.25


class VQModelConfig(BaseConfig):
    """Configuration of `VQModel` (`config.json`); names and defaults are the reference's."""

    in_channels: int = 3
    out_channels: int = 3
    down_block_types: tuple[Literal["DownEncoderBlock2D"], ...] = ("DownEncoderBlock2D",)
    up_block_types: tuple[Literal["UpDecoderBlock2D"], ...] = ("UpDecoderBlock2D",)
    block_out_channels: tuple[int, ...] = (64,)
    layers_per_block: int = 1
    act_fn: ActivationName = "silu"
    latent_channels: int = 3
    sample_size: int = 32
    num_vq_embeddings: int = pydantic.Field(256, description="Codebook size.")
    norm_num_groups: int = 32
    vq_embed_dim: int | None = pydantic.Field(
        None, description="Width of codebook vectors; default latent_channels."
    )
    scaling_factor: float = pydantic.Field(
        0.18215,
        description="Latents are multiplied by this for the diffusion model, divided to decode.",
    )
    norm_type: Literal["group", "spatial"] = pydantic.Field(
        "group", description="'spatial': decoder norms modulated by the quantized latents (MoVQ)."
    )
    mid_block_add_attention: bool = True
    lookup_from_codebook: bool = pydantic.Field(
        False, description="decode(force_not_quantize=True) takes codebook indices."
    )
    force_upcast: bool = False

    @pydantic.model_validator(mode="after")
    def _check(self) -> VQModelConfig:
        if len(self.down_block_types) != len(self.block_out_channels):
            raise ValueError(
                f"down_block_types has {len(self.down_block_types)} entries but "
                f"block_out_channels has {len(self.block_out_channels)}; they must match"
            )
        if len(self.up_block_types) != len(self.block_out_channels):
            raise ValueError(
                f"up_block_types has {len(self.up_block_types)} entries but "
                f"block_out_channels has {len(self.block_out_channels)}; they must match"
            )
        return self


@dataclass
class VQEncoderOutput(BaseOutput):
    """`latents`: unquantized encoder output (batch, vq_embed_dim, height, width)."""

    latents: torch.Tensor


class VQModel(AttentionControlMixin, ModelMixin):
    """A VQ-VAE / VQGAN autoencoder: encode, snap latents to a learned codebook, decode.

    van den Oord et al., "Neural Discrete Representation Learning" (2017); Esser et al.,
    "Taming Transformers for High-Resolution Image Synthesis" (2021); used as the first stage
    of Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models" (2022).
    ``norm_type="spatial"`` is MoVQ (Zheng et al., 2022): the decoder's norms are modulated by
    the quantized latents.
    """

    config_class = VQModelConfig
    legacy_key_renames: ClassVar[tuple[tuple[str, str], ...]] = DEPRECATED_ATTENTION_RENAMES

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        c = self.config
        embed_dim = c.vq_embed_dim if c.vq_embed_dim is not None else c.latent_channels
        self.encoder = Encoder(
            in_channels=c.in_channels,
            out_channels=c.latent_channels,
            down_block_types=tuple(c.down_block_types),
            block_out_channels=tuple(c.block_out_channels),
            layers_per_block=c.layers_per_block,
            act_fn=c.act_fn,
            norm_num_groups=c.norm_num_groups,
            double_z=False,
            mid_block_add_attention=c.mid_block_add_attention,
        )
        self.quant_conv = Conv2d(c.latent_channels, embed_dim, 1)
        self.quantize = VectorQuantizer(c.num_vq_embeddings, embed_dim, beta=COMMITMENT_WEIGHT)
        self.post_quant_conv = Conv2d(embed_dim, c.latent_channels, 1)
        self.decoder = Decoder(
            in_channels=c.latent_channels,
            out_channels=c.out_channels,
            up_block_types=tuple(c.up_block_types),
            block_out_channels=tuple(c.block_out_channels),
            layers_per_block=c.layers_per_block,
            act_fn=c.act_fn,
            norm_num_groups=c.norm_num_groups,
            norm_type=c.norm_type,
            mid_block_add_attention=c.mid_block_add_attention,
        )

    def encode(
        self, x: torch.Tensor, return_dict: bool = True
    ) -> VQEncoderOutput | tuple[torch.Tensor]:
        """Images (batch, in_channels, H, W) -> unquantized latents."""
        latents = self.quant_conv(self.encoder(x))
        return VQEncoderOutput(latents=latents) if return_dict else (latents,)

    def decode(
        self,
        h: torch.Tensor,
        force_not_quantize: bool = False,
        return_dict: bool = True,
        shape: tuple[int, ...] | None = None,
    ) -> DecoderOutput | tuple[torch.Tensor, torch.Tensor]:
        """Latents -> images. Quantizes first unless `force_not_quantize`.

        With `force_not_quantize` and `lookup_from_codebook`, `h` holds codebook indices and
        `shape` the latents' (batch, height, width, channels).
        """
        if not force_not_quantize:
            quantized, commit_loss, _ = self.quantize(h)
        else:
            if self.config.lookup_from_codebook:
                quantized = self.quantize.get_codebook_entry(h, shape)
            else:
                quantized = h
            commit_loss = torch.zeros(h.shape[0], device=h.device, dtype=quantized.dtype)
        spatial = quantized if self.config.norm_type == "spatial" else None
        decoded = self.decoder(self.post_quant_conv(quantized), spatial)
        if not return_dict:
            return decoded, commit_loss
        return DecoderOutput(sample=decoded, commit_loss=commit_loss)

    def forward(
        self, sample: torch.Tensor, return_dict: bool = True
    ) -> DecoderOutput | tuple[torch.Tensor, torch.Tensor]:
        """Encode, quantize and decode `sample`."""
        latents = self.encode(sample).latents
        decoded = self.decode(latents)
        if not return_dict:
            return decoded.sample, decoded.commit_loss
        return decoded


__all__ = ["DecoderOutput", "VQEncoderOutput", "VQModel", "VQModelConfig"]
