"""The Stable Diffusion x4 upscaler: text-guided super-resolution in latent space.

The latents have the low-resolution image's size; the VAE decodes them to four times that.
At every step the UNet sees the latents and the low-resolution image side by side on the
channel axis (7 channels: 4 + 3). The image is first noised to `noise_level` with the
`low_res_scheduler` (noise conditioning augmentation, Ho et al. 2022, "Cascaded Diffusion
Models for High Fidelity Image Generation"), and the UNet is told that level through its class
embedding.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import PIL.Image
import torch

from diffusekit import kernel
from diffusekit.errors import DiffusekitWarning
from diffusekit.image import PipelineImageInput, VaeImageProcessor
from diffusekit.noise import Generator, randn_tensor
from diffusekit.pipeline import DiffusionPipeline

from . import _checks
from ._base import Callback, StableDiffusionBase, _check_safety_components
from ._denoiser import Denoiser, State
from ._latents import initial_noise
from ._legacy_callback import LegacyCallback, check_callback_steps, legacy_callback

LATENT_SCALING_FACTOR = 0.08333
"""The x4 upscaler's VAE latent scale, whatever its config says (as the reference has it)."""


class StableDiffusionUpscalePipeline(StableDiffusionBase):
    """Text-guided x4 super-resolution (``stabilityai/stable-diffusion-x4-upscaler``).

    Components: `vae`, `text_encoder`, `tokenizer`, `unet` (7 input channels, class-embedded
    noise level), `low_res_scheduler` (a DDPM scheduler that noises the low-resolution image),
    `scheduler`, and the optional `safety_checker` / `feature_extractor` and `watermarker`
    (an object with ``apply_watermark(pil_images)``, applied to PIL output). `max_noise_level`
    bounds `noise_level`. Images are resized with bicubic filtering when their sides are not
    multiples of the VAE's scale factor.
    """

    _optional_components: ClassVar[list[str]] = [
        "watermarker",
        "safety_checker",
        "feature_extractor",
    ]
    _callback_tensor_inputs: ClassVar[list[str]] = [
        "latents",
        "prompt_embeds",
        "negative_prompt_embeds",
        "image",
        "class_labels",
    ]

    def __init__(
        self,
        vae: Any,
        text_encoder: Any,
        tokenizer: Any,
        unet: Any,
        low_res_scheduler: Any,
        scheduler: Any,
        safety_checker: Any = None,
        feature_extractor: Any = None,
        watermarker: Any = None,
        max_noise_level: int = 350,
    ) -> None:
        # Not StableDiffusionBase.__init__: other components, and no scheduler corrections.
        DiffusionPipeline.__init__(self)
        _check_safety_components(type(self).__name__, safety_checker, feature_extractor, False)
        _warn_scaling_factor(vae)
        self.register_modules(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            low_res_scheduler=low_res_scheduler,
            scheduler=scheduler,
            safety_checker=safety_checker,
            watermarker=watermarker,
            feature_extractor=feature_extractor,
        )
        self.register_to_config(max_noise_level=max_noise_level)
        self.image_processor = VaeImageProcessor(
            vae_scale_factor=self.vae_scale_factor, resample="bicubic"
        )

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str] | None = None,
        image: PipelineImageInput | None = None,
        num_inference_steps: int = 75,
        guidance_scale: float = 9.0,
        noise_level: int = 20,
        negative_prompt: str | list[str] | None = None,
        num_images_per_prompt: int = 1,
        eta: float = 0.0,
        generator: Generator = None,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        callback: LegacyCallback | None = None,
        callback_steps: int = 1,
        cross_attention_kwargs: dict[str, Any] | None = None,
        clip_skip: int | None = None,
        callback_on_step_end: Callback | None = None,
        callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
    ) -> Any:
        """Upscale `image` (one per prompt, or one for all prompts) following `prompt`.

        `noise_level` in [0, `max_noise_level`] is how much noise the low-resolution image
        gets: more gives the model more freedom and less fidelity. Arguments up to `clip_skip`
        are the reference's (`callback(step, timestep, latents)` is its older per-step
        callback); `callback_on_step_end` is the kernel's. Returns
        `StableDiffusionPipelineOutput`, or ``(images, nsfw_content_detected)``.
        """
        check_callback_steps(callback_steps, required=True)
        batch_size = self._check_common(
            prompt,
            prompt_embeds,
            negative_prompt,
            negative_prompt_embeds,
            num_images_per_prompt,
            generator,
            callback_on_step_end_tensor_inputs,
        )
        self._check_upscale_inputs(image, batch_size // num_images_per_prompt, noise_level)
        device = self._execution_device
        pixels = self.image_processor.preprocess(image)
        self._check_channels(pixels)
        conditioning = self._conditioning(
            prompt,
            negative_prompt,
            prompt_embeds,
            negative_prompt_embeds,
            num_images_per_prompt,
            self._guidance(guidance_scale),
            clip_skip,
            cross_attention_kwargs,
        )
        dtype = conditioning.dtype
        pixels = pixels.to(device=device, dtype=dtype)
        run = kernel.schedule(self.scheduler, num_inference_steps, device)
        low_res = self._noised_low_res(pixels, noise_level, generator, device, dtype)
        low_res = low_res.repeat_interleave(batch_size // low_res.shape[0], dim=0)
        channels = self.vae.config.latent_channels
        shape = (batch_size, channels, *low_res.shape[2:])
        noise = initial_noise(shape, generator, device, dtype, latents)
        guidance = conditioning.guidance
        image_state = guidance.conditioning(low_res, low_res)
        levels = torch.full((image_state.shape[0],), noise_level, dtype=torch.long, device=device)
        latents = self._denoise(
            run,
            noise * run.scheduler.init_noise_sigma,
            conditioning,
            generator=generator,
            eta=eta,
            guidance_scale=guidance_scale,
            cross_attention_kwargs=cross_attention_kwargs,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            extra_state={"image": image_state, "class_labels": levels},
            transforms=legacy_callback(callback, callback_steps),
            adapt=with_low_res_image,
        )
        images, flags = self._decode(
            latents, output_type, generator, dtype, scaling_factor=LATENT_SCALING_FACTOR
        )
        if output_type == "pil" and self.watermarker is not None:
            images = self.watermarker.apply_watermark(images)
        return self._output(images, flags, return_dict)

    def _noised_low_res(
        self,
        pixels: torch.Tensor,
        noise_level: int,
        generator: Generator,
        device: torch.device,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """The low-resolution images noised to `noise_level` by the `low_res_scheduler`.

        With a list of generators, image ``i`` draws its noise from ``generator[i]``.
        """
        if isinstance(generator, list):
            generator = generator[: pixels.shape[0]]
        noise = randn_tensor(pixels.shape, generator, device, dtype)
        level = torch.tensor([noise_level], dtype=torch.long, device=device)
        return self.low_res_scheduler.add_noise(pixels, noise, level)

    # ------------------------------------------------------------------------- checks

    def _check_upscale_inputs(self, image: Any, prompts: int, noise_level: int) -> None:
        """One image per prompt (or one for all), of a type the image processor reads, and a
        valid noise level."""
        _checks.check_image_given("image", image)
        if not isinstance(image, (torch.Tensor, PIL.Image.Image, np.ndarray, list)):
            raise TypeError(
                "image: expected a PIL image, a numpy array, a torch tensor or a list of them, "
                f"found {type(image).__name__}"
            )
        images = len(image) if isinstance(image, list) else _batch_of(image)
        if images not in (1, prompts):
            raise ValueError(
                f"image: expected one image per prompt ({prompts}) or one for all, found {images}"
            )
        maximum = self.config.max_noise_level
        if not 0 <= noise_level <= maximum:
            raise ValueError(
                f"noise_level: expected a value in [0, max_noise_level={maximum}], "
                f"found {noise_level}"
            )

    def _check_channels(self, pixels: torch.Tensor) -> None:
        latent, image = self.vae.config.latent_channels, pixels.shape[1]
        expected = self.unet.config.in_channels
        if latent + image != expected:
            raise ValueError(
                f"unet: in_channels={expected}, but the latents ({latent} channels) and the "
                f"image ({image} channels) give {latent + image}; check the UNet config or "
                "the image"
            )


def with_low_res_image(denoiser: Denoiser) -> Denoiser:
    """The noised low-resolution image (``state["image"]``) beside the scaled latents."""

    def denoise(latents: torch.Tensor, t: torch.Tensor, state: State) -> torch.Tensor:
        return denoiser(torch.cat([latents, state["image"]], dim=1), t, state)

    return denoise


def _batch_of(image: Any) -> int:
    """How many images a PIL image, tensor or array holds (3-d: one, 4-d: a batch)."""
    if isinstance(image, PIL.Image.Image) or image.ndim < 4:
        return 1
    return int(image.shape[0])


def _warn_scaling_factor(vae: Any) -> None:
    found = getattr(getattr(vae, "config", None), "scaling_factor", LATENT_SCALING_FACTOR)
    if found != LATENT_SCALING_FACTOR:
        warnings.warn(
            f"vae: the x4 upscaler's latents are scaled by {LATENT_SCALING_FACTOR}, found "
            f"scaling_factor={found} in the VAE config; using {LATENT_SCALING_FACTOR}. Update "
            "the checkpoint's vae/config.json to silence this",
            DiffusekitWarning,
            stacklevel=3,
        )
