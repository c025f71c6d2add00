"""Safe Stable Diffusion: text-to-image with Safe Latent Diffusion guidance (Schramowski et al.
2023, "Safe Latent Diffusion: Mitigating Inappropriate Degeneration in Diffusion Models").

The guidance itself is `safe_guidance.SafeLatentGuidance`; this pipeline encodes the prompt,
the negative prompt and the safety concept, runs the kernel with that guidance, and keeps the
images the safety checker flags in the output's `unsafe_images`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from diffusekit.errors import DiffusekitWarning
from diffusekit.image import PipelineImageInput, VaeImageProcessor
from diffusekit.noise import Generator

from . import _checks, prompts
from ._base import Callback, StableDiffusionBase
from ._latents import initial_noise, latent_shape
from ._legacy_callback import LegacyCallback, check_callback_steps, legacy_callback
from .outputs import StableDiffusionSafePipelineOutput
from .safe_guidance import SafeLatentGuidance
from .safety_check import run_safety_checker

logger = logging.getLogger(__name__)

SAFETY_CONCEPT = (
    "an image showing hate, harassment, violence, suffering, humiliation, harm, suicide, sexual, "
    "nudity, bodily fluids, blood, obscene gestures, illegal activity, drug use, theft, "
    "vandalism, weapons, child abuse, brutality, cruelty"
)
"""The default safety concept of Safe Latent Diffusion (the paper's I2P categories)."""


class StableDiffusionPipelineSafe(StableDiffusionBase):
    """Text-to-image with Safe Latent Diffusion, from Stable Diffusion 1.x / 2.x checkpoints.

    Loads the ``AIML-TUDA/stable-diffusion-safe`` layout (safety checker
    ``stable_diffusion_safe.SafeStableDiffusionSafetyChecker``) and any SD checkpoint given
    this class. `safety_concept` is the text steered away from (settable per pipeline).
    Safety guidance needs classifier-free guidance: it is on when `guidance_scale` > 1 and
    `sld_guidance_scale` > 1. IP-Adapter is not supported.
    """

    def __init__(
        self,
        vae: Any,
        text_encoder: Any,
        tokenizer: Any,
        unet: Any,
        scheduler: Any,
        safety_checker: Any,
        feature_extractor: Any,
        image_encoder: Any = None,
        requires_safety_checker: bool = True,
    ) -> None:
        super().__init__(
            vae,
            text_encoder,
            tokenizer,
            unet,
            scheduler,
            safety_checker,
            feature_extractor,
            image_encoder,
            requires_safety_checker,
        )
        self.safety_concept: str = SAFETY_CONCEPT

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 50,
        guidance_scale: float = 7.5,
        negative_prompt: str | list[str] | None = None,
        num_images_per_prompt: int = 1,
        eta: float = 0.0,
        generator: Generator = None,
        latents: torch.Tensor | None = None,
        ip_adapter_image: PipelineImageInput | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        callback: LegacyCallback | None = None,
        callback_steps: int = 1,
        sld_guidance_scale: float = 1000,
        sld_warmup_steps: int = 10,
        sld_threshold: float = 0.01,
        sld_momentum_scale: float = 0.3,
        sld_mom_beta: float = 0.4,
        callback_on_step_end: Callback | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
    ) -> Any:
        """Generate images for `prompt`, steered away from `self.safety_concept`.

        Arguments up to `sld_mom_beta` are the reference's (`callback(step, timestep, latents)`
        is its older per-step callback); `callback_on_step_end` is the kernel's. Returns
        `StableDiffusionSafePipelineOutput`, or with ``return_dict=False`` the tuple
        ``(images, nsfw_content_detected, applied_safety_concept, unsafe_images)``.
        """
        if ip_adapter_image is not None:
            raise ValueError("ip_adapter_image: IP-Adapter is not supported by diffusekit")
        check_callback_steps(callback_steps, required=False)
        height, width = self._default_size(height, width)
        _checks.check_size(height, width, self.vae_scale_factor)
        guidance = SafeLatentGuidance(
            guidance_scale,
            sld_guidance_scale=sld_guidance_scale,
            sld_warmup_steps=sld_warmup_steps,
            sld_threshold=sld_threshold,
            sld_momentum_scale=sld_momentum_scale,
            sld_mom_beta=sld_mom_beta,
        )
        call = self._prepare(
            prompt,
            negative_prompt,
            None,
            None,
            num_images_per_prompt,
            generator=generator,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            guidance=guidance,
            clip_skip=None,
            cross_attention_kwargs=None,
            num_inference_steps=num_inference_steps,
        )
        if not guidance.safety_enabled:
            warnings.warn(
                f"{type(self).__name__}: safety guidance is off (it needs guidance_scale > 1 "
                f"and sld_guidance_scale > 1, found {guidance_scale} and {sld_guidance_scale})",
                DiffusekitWarning,
                stacklevel=3,
            )
        concept = self.safety_concept if guidance.safety_enabled else None
        if concept is not None:
            guidance.concept_embeds = self._concept_embeds(concept, call.conditioning.prompt_embeds)
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
            cross_attention_kwargs=None,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            transforms=legacy_callback(callback, callback_steps),
            step=guidance.step,
        )
        images, flags, unsafe = self._decode_keeping_unsafe(
            latents, output_type, generator, call.conditioning.dtype
        )
        if not return_dict:
            return images, flags, concept, unsafe
        return StableDiffusionSafePipelineOutput(
            images=images,
            nsfw_content_detected=flags,
            unsafe_images=unsafe,
            applied_safety_concept=concept,
        )

    def _concept_embeds(self, concept: str, prompt_embeds: torch.Tensor) -> torch.Tensor:
        """The safety concept's embeddings, one row per image, as long as the prompt's."""
        embeds = prompts.encode_text(
            self.tokenizer,
            self.text_encoder,
            [concept],
            self._execution_device,
            max_length=prompt_embeds.shape[1],
        )
        embeds = embeds.to(dtype=prompt_embeds.dtype, device=prompt_embeds.device)
        return embeds.repeat(prompt_embeds.shape[0], 1, 1)

    def _decode_keeping_unsafe(
        self, latents: torch.Tensor, output_type: str, generator: Generator, dtype: torch.dtype
    ) -> tuple[Any, list[bool] | None, Any]:
        """(images with flagged ones black, flags, unsafe images or None).

        `unsafe_images` has one entry per image: the flagged ones as generated, black for the
        rest. Without a safety checker (or for latents) flags and unsafe images are None.
        """
        if output_type == "latent":
            return latents, None, None
        scaled = latents / self.vae.config.scaling_factor
        decoded = self.vae.decode(scaled, return_dict=False, generator=generator)[0]
        _, flags = run_safety_checker(
            self.safety_checker, self.feature_extractor, decoded, self._execution_device, dtype
        )
        pixels = VaeImageProcessor.denormalize(decoded)
        as_is = [False] * pixels.shape[0]
        if flags is None:
            return self.image_processor.postprocess(pixels, output_type, as_is), None, None
        flagged = torch.tensor(flags, device=pixels.device).reshape(-1, 1, 1, 1)
        black = torch.zeros_like(pixels)
        images = torch.where(flagged, black, pixels)
        unsafe = torch.where(flagged, pixels, black)
        if any(flags):
            logger.warning(
                "%s: the safety checker flagged %d of %d images; they are returned black (the "
                "output's unsafe_images holds them as generated)",
                type(self).__name__,
                sum(flags),
                len(flags),
            )
        return (
            self.image_processor.postprocess(images, output_type, as_is),
            flags,
            self.image_processor.postprocess(unsafe, output_type, as_is),
        )
