"""The kernel's denoiser callables for Stable Diffusion UNets.

The kernel calls ``denoiser(model_input, t, state)`` with the scaled, guidance-batched latents;
these adapt a `UNet2DConditionModel` to that call. Variants wrap the base denoiser instead of
adding flags to it: the inpainting UNet's extra input channels are one wrapper.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

State = dict[str, Any]
Denoiser = Callable[[torch.Tensor, torch.Tensor, State], torch.Tensor]


def unet_denoiser(
    unet: Any,
    cross_attention_kwargs: dict[str, Any] | None = None,
    timestep_cond: torch.Tensor | None = None,
) -> Denoiser:
    """Call `unet` with the text conditioning held in ``state["prompt_embeds"]`` (and the
    class labels in ``state["class_labels"]`` when the state holds them: the x4 upscaler's
    noise level)."""

    def denoise(latents: torch.Tensor, t: torch.Tensor, state: State) -> torch.Tensor:
        return unet(
            latents,
            t,
            encoder_hidden_states=state["prompt_embeds"],
            class_labels=state.get("class_labels"),
            timestep_cond=timestep_cond,
            cross_attention_kwargs=cross_attention_kwargs,
            return_dict=False,
        )[0]

    return denoise


def with_inpainting_channels(denoiser: Denoiser) -> Denoiser:
    """For 9-channel inpainting UNets: the latents, the mask and the masked image's latents
    (``state["mask"]``, ``state["masked_image_latents"]``) go in side by side on channels."""

    def denoise(latents: torch.Tensor, t: torch.Tensor, state: State) -> torch.Tensor:
        stacked = torch.cat([latents, state["mask"], state["masked_image_latents"]], dim=1)
        return denoiser(stacked, t, state)

    return denoise


def guidance_scale_embedding(
    guidance_scale: float, batch_size: int, dim: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Sinusoidal embedding of ``w = guidance_scale - 1`` for guidance-distilled UNets
    (``time_cond_proj_dim`` set): Meng et al. 2023, "On Distillation of Guided Diffusion
    Models", as used by latent consistency models (Luo et al. 2023). ``w`` is scaled by 1000
    and embedded like a timestep, sines then cosines."""
    w = torch.full((batch_size,), (guidance_scale - 1.0) * 1000.0)
    half = dim // 2
    frequencies = torch.exp(torch.arange(half, dtype=dtype) * -(math.log(10000.0) / (half - 1)))
    angles = w.to(dtype)[:, None] * frequencies[None, :]
    embedding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if dim % 2 == 1:
        embedding = torch.nn.functional.pad(embedding, (0, 1))
    return embedding
