"""Inpainting with an ordinary (4-channel) UNet: keep the known region after every step.

After each denoising step the latents outside the mask are replaced by the original image's
latents noised to the next timestep, so only the masked region is generated (latent
blending, Avrahami et al. 2023, "Blended Latent Diffusion"). It runs as a kernel transform.
"""

from __future__ import annotations

import torch

from diffusekit import kernel


def keep_known_region(known: torch.Tensor, noise: torch.Tensor) -> kernel.StepTransform:
    """A transform blending `known` (clean image latents, noised with `noise`) outside
    ``state["mask"]`` (1 = generate, 0 = keep; doubled along the batch under guidance)."""

    def blend(
        ctx: kernel.StepContext, index: int, t: torch.Tensor, latents: torch.Tensor
    ) -> torch.Tensor:
        mask = ctx.state["mask"]
        if ctx.guidance.enabled:
            mask = mask.chunk(2)[0]
        reference = known
        if index < len(ctx.run.timesteps) - 1:
            next_t = ctx.run.timesteps[index + 1 : index + 2]
            reference = ctx.scheduler.add_noise(known, noise, next_t)
        return (1 - mask) * reference + mask * latents

    return blend
