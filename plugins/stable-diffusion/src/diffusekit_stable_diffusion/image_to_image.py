"""Stable Diffusion image-to-image (SDEdit: Meng et al. 2022, "SDEdit: Guided Image Synthesis
and Editing with Stochastic Differential Equations"): noise an image's latents part of the
way, then denoise them conditioned on text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from diffusekit import kernel
from diffusekit.image import PipelineImageInput
from diffusekit.noise import Generator, randn_tensor

from . import _checks
from ._base import Callback, StableDiffusionBase
from ._latents import image_latents, to_batch


class StableDiffusionImg2ImgPipeline(StableDiffusionBase):
    """Image-to-image with Stable Diffusion 1.x and 2.x checkpoints.

    `strength` in [0, 1] sets how far the image is noised: the last
    ``int(num_inference_steps * strength)`` steps run, so 1.0 ignores the image's content and
    small values keep it. The image keeps its own size, rounded down to a multiple of 8.
    A 4-channel tensor `image` is taken for latents. Same limits as `StableDiffusionPipeline`.
    """

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        image: PipelineImageInput | None = None,
        strength: float = 0.8,
        num_inference_steps: int = 50,
        timesteps: list[int] | None = None,
        sigmas: list[float] | None = None,
        guidance_scale: float = 7.5,
        negative_prompt: str | list[str] | None = None,
        num_images_per_prompt: int = 1,
        eta: float = 0.0,
        generator: Generator = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        cross_attention_kwargs: dict[str, Any] | None = None,
        clip_skip: int | None = None,
        callback_on_step_end: Callback | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
    ) -> Any:
        """Transform `image` following `prompt`; returns what `StableDiffusionPipeline` does."""
        _checks.check_image_given("image", image)
        _checks.check_run(output_type, num_inference_steps, timesteps, sigmas)
        _checks.check_strength(strength)
        call = self._prepare(
            prompt,
            negative_prompt,
            prompt_embeds,
            negative_prompt_embeds,
            num_images_per_prompt,
            generator=generator,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            guidance=self._guidance(guidance_scale),
            clip_skip=clip_skip,
            cross_attention_kwargs=cross_attention_kwargs,
            num_inference_steps=num_inference_steps,
            timesteps=timesteps,
            sigmas=sigmas,
            strength=strength,
        )
        pixels = self.image_processor.preprocess(image)
        latents = self._noised_image_latents(
            pixels, call.run, call.batch_size, generator, call.device, call.conditioning.dtype
        )
        latents = self._denoise(
            call.run,
            latents,
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

    def _noised_image_latents(
        self,
        pixels: torch.Tensor,
        run: kernel.Schedule,
        batch_size: int,
        generator: Generator,
        device: torch.device,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """The image's latents, one per generated image, noised to the run's first timestep.

        With a list of generators every image is encoded with its own generator.
        """
        if isinstance(generator, list):
            pixels = to_batch(pixels, batch_size, "image")
        clean = to_batch(
            image_latents(self.vae, pixels, generator, device, dtype), batch_size, "image"
        )
        noise = randn_tensor(clean.shape, generator, device, dtype)
        return run.scheduler.add_noise(clean, noise, run.first_timestep.repeat(batch_size))
