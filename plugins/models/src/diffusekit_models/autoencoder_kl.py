"""AutoencoderKL: the KL-regularized image autoencoder that Stable Diffusion works in."""

from __future__ import annotations

from collections.abc import Callable
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
from .conv import Conv2d
from .tiling import tiled_apply
from .vae import Decoder, DiagonalGaussianDistribution, Encoder


class AutoencoderKLConfig(BaseConfig):
    """Configuration of `AutoencoderKL` (`config.json`); names and defaults are the reference's."""

    in_channels: int = 3
    out_channels: int = 3
    down_block_types: tuple[Literal["DownEncoderBlock2D"], ...] = ("DownEncoderBlock2D",)
    up_block_types: tuple[Literal["UpDecoderBlock2D"], ...] = ("UpDecoderBlock2D",)
    block_out_channels: tuple[int, ...] = (64,)
    layers_per_block: int = 1
    act_fn: ActivationName = "silu"
    latent_channels: int = 4
    norm_num_groups: int = 32
    sample_size: int | tuple[int, int] = pydantic.Field(
        32, description="Training image size; also the tile size when tiling."
    )
    scaling_factor: float = pydantic.Field(
        0.18215,
        description="Latents are multiplied by this for the diffusion model and divided to decode.",
    )
    shift_factor: float | None = None
    latents_mean: tuple[float, ...] | None = None
    latents_std: tuple[float, ...] | None = None
    force_upcast: bool = pydantic.Field(
        True, description="Pipelines decode in float32 even when the model is float16."
    )
    use_quant_conv: bool = True
    use_post_quant_conv: bool = True
    mid_block_add_attention: bool = True

    @pydantic.model_validator(mode="after")
    def _check(self) -> AutoencoderKLConfig:
        blocks = len(self.block_out_channels)
        for name in ("down_block_types", "up_block_types"):
            if len(getattr(self, name)) != blocks:
                raise ValueError(
                    f"{name} has {len(getattr(self, name))} entries but block_out_channels has "
                    f"{blocks}; they must match"
                )
        return self


@dataclass
class AutoencoderKLOutput(BaseOutput):
    """`latent_dist`: the posterior over latents (sample it, or take its mode)."""

    latent_dist: DiagonalGaussianDistribution


@dataclass
class DecoderOutput(BaseOutput):
    """`sample`: decoded images (batch, out_channels, H, W)."""

    sample: torch.Tensor
    commit_loss: torch.Tensor | None = None


class AutoencoderKL(AttentionControlMixin, ModelMixin):
    """A VAE with a diagonal Gaussian posterior; images <-> latents 2**(blocks-1) times smaller.

    Kingma & Welling, "Auto-Encoding Variational Bayes" (2014), with the encoder/decoder of
    Esser et al. (2021) as trained by Rombach et al., "High-Resolution Image Synthesis with
    Latent Diffusion Models" (2022). Slicing encodes/decodes one image of a batch at a time;
    tiling runs on overlapping tiles of `sample_size` and blends the seams.
    """

    config_class = AutoencoderKLConfig
    #: Old checkpoints name the mid-block attention projections query/key/value/proj_attn.
    legacy_key_renames: ClassVar[tuple[tuple[str, str], ...]] = DEPRECATED_ATTENTION_RENAMES

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        c = self.config
        common = {
            "block_out_channels": tuple(c.block_out_channels),
            "layers_per_block": c.layers_per_block,
            "act_fn": c.act_fn,
            "norm_num_groups": c.norm_num_groups,
            "mid_block_add_attention": c.mid_block_add_attention,
        }
        self.encoder = Encoder(
            in_channels=c.in_channels,
            out_channels=c.latent_channels,
            down_block_types=tuple(c.down_block_types),
            double_z=True,
            **common,
        )
        self.decoder = Decoder(
            in_channels=c.latent_channels,
            out_channels=c.out_channels,
            up_block_types=tuple(c.up_block_types),
            **common,
        )
        moments = 2 * c.latent_channels
        self.quant_conv = Conv2d(moments, moments, 1) if c.use_quant_conv else None
        self.post_quant_conv = (
            Conv2d(c.latent_channels, c.latent_channels, 1) if c.use_post_quant_conv else None
        )
        self.use_slicing = False
        self.use_tiling = False
        size = c.sample_size[0] if isinstance(c.sample_size, (list, tuple)) else c.sample_size
        self.tile_sample_min_size = size
        self.tile_latent_min_size = int(size / 2 ** (len(c.block_out_channels) - 1))
        self.tile_overlap_factor = 0.25

    # ----------------------------------------------------------------------- memory modes

    def enable_slicing(self) -> None:
        """Encode and decode one batch element at a time."""
        self.use_slicing = True

    def disable_slicing(self) -> None:
        self.use_slicing = False

    def enable_tiling(self, use_tiling: bool = True) -> None:
        """Encode/decode inputs larger than one tile in overlapping, blended tiles."""
        self.use_tiling = use_tiling

    def disable_tiling(self) -> None:
        self.use_tiling = False

    # --------------------------------------------------------------------------- encoding

    def _moments(self, x: torch.Tensor) -> torch.Tensor:
        moments = self.encoder(x)
        return self.quant_conv(moments) if self.quant_conv is not None else moments

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_tiling and max(x.shape[-2:]) > self.tile_sample_min_size:
            return self._tiled(
                x, self._moments, self.tile_sample_min_size, self.tile_latent_min_size
            )
        return self._moments(x)

    def encode(
        self, x: torch.Tensor, return_dict: bool = True
    ) -> AutoencoderKLOutput | tuple[DiagonalGaussianDistribution]:
        """Images (batch, in_channels, H, W) in [-1, 1] -> posterior over latents."""
        moments = self._per_sample(x, self._encode)
        posterior = DiagonalGaussianDistribution(moments)
        return AutoencoderKLOutput(latent_dist=posterior) if return_dict else (posterior,)

    def tiled_encode(
        self, x: torch.Tensor, return_dict: bool = True
    ) -> AutoencoderKLOutput | tuple[DiagonalGaussianDistribution]:
        """`encode` on overlapping tiles, whatever the input size."""
        moments = self._tiled(
            x, self._moments, self.tile_sample_min_size, self.tile_latent_min_size
        )
        posterior = DiagonalGaussianDistribution(moments)
        return AutoencoderKLOutput(latent_dist=posterior) if return_dict else (posterior,)

    # --------------------------------------------------------------------------- decoding

    def _image(self, z: torch.Tensor) -> torch.Tensor:
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        if self.use_tiling and max(z.shape[-2:]) > self.tile_latent_min_size:
            return self._tiled(z, self._image, self.tile_latent_min_size, self.tile_sample_min_size)
        return self._image(z)

    def decode(
        self,
        z: torch.Tensor,
        return_dict: bool = True,
        generator: torch.Generator | None = None,
    ) -> DecoderOutput | tuple[torch.Tensor]:
        """Latents (batch, latent_channels, h, w), already divided by `scaling_factor` -> images.

        `generator` is accepted for signature compatibility and unused (decoding is
        deterministic).
        """
        decoded = self._per_sample(z, self._decode)
        return DecoderOutput(sample=decoded) if return_dict else (decoded,)

    def tiled_decode(
        self, z: torch.Tensor, return_dict: bool = True
    ) -> DecoderOutput | tuple[torch.Tensor]:
        """`decode` on overlapping tiles, whatever the input size."""
        decoded = self._tiled(z, self._image, self.tile_latent_min_size, self.tile_sample_min_size)
        return DecoderOutput(sample=decoded) if return_dict else (decoded,)

    # ---------------------------------------------------------------------------- helpers

    def _per_sample(
        self, x: torch.Tensor, run: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        if self.use_slicing and x.shape[0] > 1:
            return torch.cat([run(part) for part in x.split(1)])
        return run(x)

    def _tiled(
        self,
        x: torch.Tensor,
        network: Callable[[torch.Tensor], torch.Tensor],
        tile: int,
        out_tile: int,
    ) -> torch.Tensor:
        return tiled_apply(x, network, tile, out_tile, self.tile_overlap_factor)

    def forward(
        self,
        sample: torch.Tensor,
        sample_posterior: bool = False,
        return_dict: bool = True,
        generator: torch.Generator | None = None,
    ) -> DecoderOutput | tuple[torch.Tensor]:
        """Encode, take the posterior's mode (or a sample), decode."""
        posterior = self.encode(sample).latent_dist
        z = posterior.sample(generator=generator) if sample_posterior else posterior.mode()
        decoded = self.decode(z).sample
        return DecoderOutput(sample=decoded) if return_dict else (decoded,)


__all__ = ["AutoencoderKL", "AutoencoderKLConfig", "AutoencoderKLOutput", "DecoderOutput"]
