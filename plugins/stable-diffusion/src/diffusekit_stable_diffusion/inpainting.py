"""Stable Diffusion inpainting: regenerate the masked part of an image following a prompt.

Two kinds of UNet work: inpainting UNets (9 input channels: latents, the mask, and the
latents of the image with the masked region blanked out, side by side) and ordinary
4-channel UNets, which generate everywhere and get the known region blended back after each
step (`_blending`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from diffusekit import kernel
from diffusekit.image import PipelineImageInput, VaeImageProcessor
from diffusekit.noise import Generator

from . import _checks
from ._base import Callback, Conditioning, StableDiffusionBase
from ._blending import keep_known_region
from ._denoiser import with_inpainting_channels
from ._latents import image_latents, initial_noise, latent_shape, to_batch


class StableDiffusionInpaintPipeline(StableDiffusionBase):
    """Inpainting with Stable Diffusion 1.x / 2.x inpainting checkpoints or plain ones.

    `mask_image` is white (1) where to generate and black (0) where to keep `image`; both
    must have the same size and are resized to `height` x `width` (default: the UNet's
    `sample_size` times the VAE's scale factor). `strength` < 1 starts from the noised image
    instead of pure noise. `padding_mask_crop` = p works on the mask's bounding box grown by
    p pixels (at the image's aspect ratio) and pastes the result back into the original image
    (PIL inputs and output only). `masked_image_latents` replaces the masked image's latents.
    """

    _callback_tensor_inputs: ClassVar[list[str]] = [
        "latents",
        "prompt_embeds",
        "negative_prompt_embeds",
        "mask",
        "masked_image_latents",
    ]

    @functools.cached_property
    def mask_processor(self) -> VaeImageProcessor:
        """Masks -> one-channel tensors of 0 and 1 (no [-1, 1] normalization)."""
        return VaeImageProcessor(
            vae_scale_factor=self.vae_scale_factor,
            do_normalize=False,
            do_binarize=True,
            do_convert_grayscale=True,
        )

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        image: PipelineImageInput | None = None,
        mask_image: PipelineImageInput | None = None,
        masked_image_latents: torch.Tensor | None = None,
        height: int | None = None,
        width: int | None = None,
        padding_mask_crop: int | None = None,
        strength: float = 1.0,
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
        clip_skip: int | None = None,
        callback_on_step_end: Callback | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
    ) -> Any:
        """Inpaint `image` where `mask_image` is white; returns what `StableDiffusionPipeline`
        does."""
        height, width = self._default_size(height, width)
        _checks.check_run(output_type, num_inference_steps, timesteps, sigmas)
        self._check_inpainting_inputs(
            image, mask_image, height, width, strength, padding_mask_crop, output_type
        )
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
        batch_size, conditioning = call.batch_size, call.conditioning
        pixels, mask_pixels, crop = self._preprocess(
            image, mask_image, height, width, padding_mask_crop
        )
        start, noise, known = self._initial_latents(
            pixels, call.run, strength, batch_size, height, width, generator, conditioning, latents
        )
        masked = (
            pixels * (mask_pixels < 0.5) if masked_image_latents is None else masked_image_latents
        )
        mask, masked_latents = self._mask_latents(
            mask_pixels, masked, batch_size, generator, conditioning
        )
        latents = self._denoise(
            call.run,
            start,
            conditioning,
            generator=generator,
            eta=eta,
            guidance_scale=guidance_scale,
            cross_attention_kwargs=cross_attention_kwargs,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            extra_state={"mask": mask, "masked_image_latents": masked_latents},
            transforms=[keep_known_region(known, noise)] if known is not None else (),
            adapt=None if known is not None else with_inpainting_channels,
        )
        images, flags = self._decode(latents, output_type, generator, conditioning.dtype)
        if crop is not None:
            images = [
                self.image_processor.apply_overlay(mask_image, image, generated, crop)
                for generated in images
            ]
        return self._output(images, flags, return_dict)

    # ------------------------------------------------------------------------- checks

    def _check_inpainting_inputs(
        self,
        image: Any,
        mask_image: Any,
        height: int,
        width: int,
        strength: float,
        padding_mask_crop: int | None,
        output_type: str,
    ) -> None:
        _checks.check_image_given("image", image)
        _checks.check_image_given("mask_image", mask_image)
        _checks.check_strength(strength)
        _checks.check_size(height, width, self.vae_scale_factor)
        _checks.check_same_size(image, mask_image)
        if padding_mask_crop is not None:
            _checks.check_mask_crop(image, mask_image, output_type)
        latent = self.vae.config.latent_channels
        channels = self.unet.config.in_channels
        if channels not in (latent, 2 * latent + 1):
            raise ValueError(
                f"unet: an inpainting UNet takes {2 * latent + 1} input channels (latents, mask, "
                f"masked-image latents) and an ordinary one {latent}; found "
                f"in_channels={channels}"
            )

    # ------------------------------------------------------------------------ latents

    def _preprocess(
        self,
        image: PipelineImageInput,
        mask_image: PipelineImageInput,
        height: int,
        width: int,
        padding_mask_crop: int | None,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int, int, int] | None]:
        """(image in [-1, 1], mask of 0 and 1, the crop box or None), at `height` x `width`."""
        crop = None
        if padding_mask_crop is not None:
            crop = self.mask_processor.get_crop_region(
                mask_image, width, height, pad=padding_mask_crop
            )
        resize_mode = "default" if crop is None else "fill"
        pixels = self.image_processor.preprocess(
            image, height=height, width=width, crops_coords=crop, resize_mode=resize_mode
        ).float()
        mask_pixels = self.mask_processor.preprocess(
            mask_image, height=height, width=width, resize_mode=resize_mode, crops_coords=crop
        )
        return pixels, mask_pixels, crop

    def _initial_latents(
        self,
        pixels: torch.Tensor,
        run: kernel.Schedule,
        strength: float,
        batch_size: int,
        height: int,
        width: int,
        generator: Generator,
        conditioning: Conditioning,
        latents: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(start latents, their noise, the image's clean latents for blending or None).

        At full strength the run starts from pure noise; below it, from the image's latents
        noised to the first timestep. Random numbers are drawn in the reference's order: the
        image's posterior sample first, then the noise.
        """
        device, dtype = self._execution_device, conditioning.dtype
        channels = self.vae.config.latent_channels
        blending = self.unet.config.in_channels == channels
        full = strength == 1.0
        clean = None
        if blending or (latents is None and not full):
            encoded = image_latents(self.vae, pixels, generator, device, dtype)
            clean = to_batch(encoded, batch_size, "image")
        shape = latent_shape(batch_size, channels, height, width, self.vae_scale_factor)
        noise = initial_noise(shape, generator, device, dtype, latents)
        if latents is not None or full:
            start = noise * run.scheduler.init_noise_sigma
        else:
            start = run.scheduler.add_noise(clean, noise, run.first_timestep.repeat(batch_size))
        return start, noise, clean if blending else None

    def _mask_latents(
        self,
        mask_pixels: torch.Tensor,
        masked: torch.Tensor,
        batch_size: int,
        generator: Generator,
        conditioning: Conditioning,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The mask at latent size and the masked image's latents, batched for guidance.

        The masked image is encoded even for 4-channel UNets, which do not use it, so the
        generator's stream (and so the images) stays the reference's.
        """
        device, dtype = self._execution_device, conditioning.dtype
        factor = self.vae_scale_factor
        size = (mask_pixels.shape[-2] // factor, mask_pixels.shape[-1] // factor)
        mask = F.interpolate(mask_pixels, size=size).to(device=device, dtype=dtype)
        masked_latents = image_latents(self.vae, masked, generator, device, dtype)
        mask = to_batch(mask, batch_size, "mask_image")
        masked_latents = to_batch(masked_latents, batch_size, "masked_image_latents")
        if conditioning.guidance.enabled:
            mask = torch.cat([mask, mask])
            masked_latents = torch.cat([masked_latents, masked_latents])
        return mask, masked_latents
