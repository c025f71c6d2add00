"""Stable Diffusion text-to-image (Rombach et al. 2022, "High-Resolution Image Synthesis with
Latent Diffusion Models"): denoise random latents conditioned on CLIP-encoded text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from diffusekit.noise import Generator

from . import _checks
from ._base import Callback, StableDiffusionBase
from ._latents import initial_noise, latent_shape


class StableDiffusionPipeline(StableDiffusionBase):
    """Text-to-image with Stable Diffusion 1.x and 2.x checkpoints.

    ``pipe(prompt).images[0]`` is a PIL image. Arguments and defaults are the reference's;
    `cross_attention_kwargs` reach the UNet's attention processors (its ``"scale"`` entry,
    a LoRA scale, has no effect: LoRA loading is not supported). IP-Adapter arguments and the
    deprecated ``callback``/``callback_steps`` are not accepted.
    """

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 50,
        timesteps: list[int] | None = None,
        sigmas: list[float] | None = None,
        guidance_scale: float = 7.5,
        negative_prompt: str | list[str] | None = None,
        num_images_per_prompt: int = 1,
        eta: float = 0.0,
        generator: Generator = None,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        cross_attention_kwargs: dict[str, Any] | None = None,
        guidance_rescale: float = 0.0,
        clip_skip: int | None = None,
        callback_on_step_end: Callback | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
    ) -> Any:
        """Generate images for `prompt` (see docs/stable-diffusion.md for every argument).

        `height`/`width` default to the UNet's `sample_size` times the VAE's scale factor and
        must be multiples of 8. Returns `StableDiffusionPipelineOutput` (``images``,
        ``nsfw_content_detected``), or the tuple ``(images, nsfw_content_detected)`` with
        ``return_dict=False``.
        """
        height, width = self._default_size(height, width)
        _checks.check_run(output_type, num_inference_steps, timesteps, sigmas)
        _checks.check_size(height, width, self.vae_scale_factor)
        call = self._prepare(
            prompt,
            negative_prompt,
            prompt_embeds,
            negative_prompt_embeds,
            num_images_per_prompt,
            generator=generator,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            guidance=self._guidance(guidance_scale, guidance_rescale),
            clip_skip=clip_skip,
            cross_attention_kwargs=cross_attention_kwargs,
            num_inference_steps=num_inference_steps,
            timesteps=timesteps,
            sigmas=sigmas,
        )
        shape = latent_shape(
            call.batch_size, self.unet.config.in_channels, height, width, self.vae_scale_factor
        )
        noise = initial_noise(shape, generator, call.device, call.conditioning.dtype, latents)
        latents = self._denoise(
            call.run,
            noise * call.run.scheduler.init_noise_sigma,
            call.conditioning,
            generator=generator,
            eta=eta,
            guidance_scale=guidance_scale,
            cross_attention_kwargs=cross_attention_kwargs,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        images, flags = self._decode(latents, output_type, generator, call.conditioning.dtype)
        return self._output(images, flags, return_dict)
