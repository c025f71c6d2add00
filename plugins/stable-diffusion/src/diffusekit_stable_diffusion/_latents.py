"""Latents for the Stable Diffusion pipelines: fresh noise, and images through the VAE."""

from __future__ import annotations

from typing import Any

import torch

from diffusekit.noise import Generator, randn_tensor


def latent_shape(
    batch_size: int, channels: int, height: int, width: int, vae_scale_factor: int
) -> tuple[int, int, int, int]:
    return (batch_size, channels, height // vae_scale_factor, width // vae_scale_factor)


def initial_noise(
    shape: tuple[int, ...],
    generator: Generator,
    device: torch.device,
    dtype: torch.dtype,
    latents: torch.Tensor | None = None,
) -> torch.Tensor:
    """`latents` if given (moved to `device`), else fresh noise of `shape`."""
    if latents is None:
        return randn_tensor(shape, generator, device, dtype)
    if tuple(latents.shape) != tuple(shape):
        raise ValueError(f"latents: expected shape {tuple(shape)}, found {tuple(latents.shape)}")
    return latents.to(device=device, dtype=dtype)


def encode_images(vae: Any, images: torch.Tensor, generator: Generator) -> torch.Tensor:
    """Images in [-1, 1] -> latents sampled from the VAE posterior, times `scaling_factor`.

    With a list of generators, image ``i`` samples its posterior with ``generator[i]``.
    """
    if isinstance(generator, list):
        rows = [
            vae.encode(images[i : i + 1]).latent_dist.sample(generator=generator[i])
            for i in range(images.shape[0])
        ]
        latents = torch.cat(rows, dim=0)
    else:
        latents = vae.encode(images).latent_dist.sample(generator=generator)
    return latents * vae.config.scaling_factor


def image_latents(
    vae: Any, images: torch.Tensor, generator: Generator, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Encode `images`, or pass them through when they already are latents."""
    images = images.to(device=device, dtype=dtype)
    if images.shape[1] == vae.config.latent_channels:
        return images
    return encode_images(vae, images, generator)


def to_batch(tensor: torch.Tensor, batch_size: int, name: str) -> torch.Tensor:
    """Tile `tensor` along the batch axis to `batch_size` rows (a, b, a, b for two of two)."""
    rows = tensor.shape[0]
    if rows == batch_size:
        return tensor
    if rows > batch_size or batch_size % rows != 0:
        raise ValueError(
            f"{name}: {rows} given, which cannot be repeated to the {batch_size} images asked "
            f"for (prompts x num_images_per_prompt); pass 1 or a divisor of {batch_size}"
        )
    return tensor.repeat(batch_size // rows, *([1] * (tensor.ndim - 1)))
