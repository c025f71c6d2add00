"""What the Stable Diffusion pipelines share: components, prompt encoding, the call to the
kernel, and decoding with the safety check.

Each pipeline's ``__call__`` reads: check inputs, `encode_prompt`, prepare latents,
`_denoise`, `_decode`. Only preparing the latents differs between text-to-image,
image-to-image and inpainting.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from diffusekit import kernel
from diffusekit.errors import DiffusekitWarning
from diffusekit.image import VaeImageProcessor
from diffusekit.noise import check_generators
from diffusekit.pipeline import DiffusionPipeline

from . import _checks, prompts
from ._denoiser import Denoiser, guidance_scale_embedding, unet_denoiser
from ._scheduler_fixes import corrected_scheduler
from .outputs import StableDiffusionPipelineOutput
from .safety_check import run_safety_checker

Callback = Callable[[Any, int, torch.Tensor, dict[str, Any]], dict[str, Any] | None]


@dataclass
class Conditioning:
    """The encoded prompts of one call and how they are combined."""

    prompt_embeds: torch.Tensor
    negative_prompt_embeds: torch.Tensor | None
    guidance: Any

    @property
    def dtype(self) -> torch.dtype:
        return self.prompt_embeds.dtype


@dataclass
class Prepared:
    """What every call starts from: how many images, where, the run and the conditioning."""

    batch_size: int
    device: torch.device
    run: kernel.Schedule
    conditioning: Conditioning


class StableDiffusionBase(DiffusionPipeline):
    """Components and shared steps of the Stable Diffusion 1.x / 2.x pipelines.

    Components: `vae` (AutoencoderKL), `text_encoder` (CLIPTextModel), `tokenizer`
    (CLIPTokenizer), `unet` (UNet2DConditionModel), `scheduler`, and the optional
    `safety_checker`, `feature_extractor` (the checker's CLIP image processor) and
    `image_encoder` (loaded and saved, not used: IP-Adapter is not supported).
    """

    _optional_components: ClassVar[list[str]] = [
        "safety_checker",
        "feature_extractor",
        "image_encoder",
    ]
    _exclude_from_cpu_offload: ClassVar[list[str]] = ["safety_checker"]
    _callback_tensor_inputs: ClassVar[list[str]] = [
        "latents",
        "prompt_embeds",
        "negative_prompt_embeds",
    ]

    vae: Any
    text_encoder: Any
    tokenizer: Any
    unet: Any
    scheduler: Any
    safety_checker: Any
    feature_extractor: Any
    image_encoder: Any

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
        super().__init__()
        name = type(self).__name__
        _check_safety_components(name, safety_checker, feature_extractor, requires_safety_checker)
        self.register_modules(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=corrected_scheduler(scheduler, name),
            safety_checker=safety_checker,
            feature_extractor=feature_extractor,
            image_encoder=image_encoder,
        )
        self.register_to_config(requires_safety_checker=requires_safety_checker)
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor)

    @property
    def vae_scale_factor(self) -> int:
        """How much smaller latents are than images: 2 ** (VAE blocks - 1), 8 for SD."""
        vae = getattr(self, "vae", None)
        return 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else 8

    def _default_size(self, height: int | None, width: int | None) -> tuple[int, int]:
        """Missing sides: the UNet's `sample_size` times the VAE's scale factor."""
        size = self.unet.config.sample_size
        rows, cols = (size, size) if isinstance(size, int) else tuple(size)
        return (
            height or rows * self.vae_scale_factor,
            width or cols * self.vae_scale_factor,
        )

    # ------------------------------------------------------------------------ prompts

    def encode_prompt(
        self,
        prompt: str | list[str] | None,
        device: torch.device | str,
        num_images_per_prompt: int,
        do_classifier_free_guidance: bool,
        negative_prompt: str | list[str] | None = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        lora_scale: float | None = None,
        clip_skip: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Encode prompts: ``(prompt_embeds, negative_prompt_embeds)``, one row per image.

        The negative embeddings are computed only with `do_classifier_free_guidance` (from
        `negative_prompt`, or empty prompts). `clip_skip` = k uses the text encoder's hidden
        state k layers before the last. `lora_scale` is accepted for compatibility and has no
        effect: diffusekit does not load LoRA weights.
        """
        del lora_scale
        dtype = self.text_encoder.dtype if self.text_encoder is not None else self.unet.dtype
        return prompts.encode_prompt(
            self.tokenizer,
            self.text_encoder,
            prompt,
            device,
            num_images_per_prompt,
            do_classifier_free_guidance,
            negative_prompt=negative_prompt,
            prompt_embeds=prompt_embeds,
            negative_prompt_embeds=negative_prompt_embeds,
            clip_skip=clip_skip,
            dtype=dtype,
        )

    def _conditioning(
        self,
        prompt: str | list[str] | None,
        negative_prompt: str | list[str] | None,
        prompt_embeds: torch.Tensor | None,
        negative_prompt_embeds: torch.Tensor | None,
        num_images_per_prompt: int,
        guidance: Any,
        clip_skip: int | None,
        cross_attention_kwargs: dict[str, Any] | None,
    ) -> Conditioning:
        positive, negative = self.encode_prompt(
            prompt,
            self._execution_device,
            num_images_per_prompt,
            guidance.enabled,
            negative_prompt,
            prompt_embeds=prompt_embeds,
            negative_prompt_embeds=negative_prompt_embeds,
            lora_scale=(cross_attention_kwargs or {}).get("scale"),
            clip_skip=clip_skip,
        )
        return Conditioning(positive, negative, guidance)

    def _guidance(self, guidance_scale: float, guidance_rescale: float = 0.0) -> Any:
        """Classifier-free guidance, except for guidance-distilled UNets (which embed it)."""
        if self.unet.config.time_cond_proj_dim is not None:
            return kernel.NoGuidance(scale=guidance_scale)
        return kernel.ClassifierFreeGuidance(guidance_scale, guidance_rescale)

    # ------------------------------------------------------------------------- checks

    def _check_common(
        self,
        prompt: Any,
        prompt_embeds: torch.Tensor | None,
        negative_prompt: Any,
        negative_prompt_embeds: torch.Tensor | None,
        num_images_per_prompt: int,
        generator: Any,
        callback_on_step_end_tensor_inputs: Sequence[str] | None,
    ) -> int:
        """Check the arguments every pipeline takes; return the number of images to make."""
        _checks.check_prompt(prompt, prompt_embeds, negative_prompt, negative_prompt_embeds)
        kernel.check_callback_inputs(self, callback_on_step_end_tensor_inputs)
        batch_size = _checks.prompt_batch_size(prompt, prompt_embeds) * num_images_per_prompt
        counted = f" (prompts x num_images_per_prompt = {batch_size})"
        check_generators(generator, batch_size, exact=True, counted=counted)
        return batch_size

    # ---------------------------------------------------------------------- the prologue

    def _prepare(
        self,
        prompt: Any,
        negative_prompt: Any,
        prompt_embeds: torch.Tensor | None,
        negative_prompt_embeds: torch.Tensor | None,
        num_images_per_prompt: int,
        *,
        generator: Any,
        callback_on_step_end_tensor_inputs: Sequence[str] | None,
        guidance: Any,
        clip_skip: int | None,
        cross_attention_kwargs: dict[str, Any] | None,
        num_inference_steps: int,
        timesteps: Sequence[int] | None = None,
        sigmas: Sequence[float] | None = None,
        strength: float | None = None,
    ) -> Prepared:
        """Check the common arguments, set up the run, then encode the prompts.

        The run is set up before any model is called, so a schedule that cannot run (custom
        timesteps the scheduler does not take, a strength that leaves no step) fails first.
        """
        batch_size = self._check_common(
            prompt,
            prompt_embeds,
            negative_prompt,
            negative_prompt_embeds,
            num_images_per_prompt,
            generator,
            callback_on_step_end_tensor_inputs,
        )
        device = self._execution_device
        run = kernel.schedule(
            self.scheduler,
            num_inference_steps,
            device,
            timesteps=timesteps,
            sigmas=sigmas,
            strength=strength,
        )
        conditioning = self._conditioning(
            prompt,
            negative_prompt,
            prompt_embeds,
            negative_prompt_embeds,
            num_images_per_prompt,
            guidance,
            clip_skip,
            cross_attention_kwargs,
        )
        return Prepared(batch_size, device, run, conditioning)

    # ------------------------------------------------------------------------ the loop

    def _denoise(
        self,
        run: kernel.Schedule,
        latents: torch.Tensor,
        conditioning: Conditioning,
        *,
        generator: Any,
        eta: float,
        guidance_scale: float,
        cross_attention_kwargs: dict[str, Any] | None,
        callback_on_step_end: Callback | None,
        callback_on_step_end_tensor_inputs: Sequence[str],
        extra_state: dict[str, Any] | None = None,
        transforms: Sequence[kernel.StepTransform] = (),
        adapt: Callable[[Denoiser], Denoiser] | None = None,
        step: kernel.StepTransform = kernel.scheduler_step,
    ) -> torch.Tensor:
        """Run the kernel from `latents`; callbacks see the reference's names and tensors.

        `extra_state` adds named tensors the denoiser or transforms read; `adapt` wraps the
        UNet denoiser (the inpainting UNet's extra channels); `step` replaces the kernel's
        default step (Safe Latent Diffusion tells its guidance the step index).
        """
        guidance = conditioning.guidance
        state = {
            "latents": latents,
            "prompt_embeds": guidance.conditioning(
                conditioning.negative_prompt_embeds, conditioning.prompt_embeds
            ),
            "negative_prompt_embeds": conditioning.negative_prompt_embeds,
            **(extra_state or {}),
        }
        denoiser = unet_denoiser(
            self.unet,
            cross_attention_kwargs,
            self._timestep_cond(guidance_scale, latents.shape[0], latents),
        )
        if adapt is not None:
            denoiser = adapt(denoiser)
        return kernel.denoise(
            self,
            run,
            state,
            denoiser=denoiser,
            guidance=guidance,
            step_options={"generator": generator, "eta": eta},
            step=step,
            transforms=transforms,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )

    def _timestep_cond(
        self, guidance_scale: float, batch_size: int, latents: torch.Tensor
    ) -> torch.Tensor | None:
        dim = self.unet.config.time_cond_proj_dim
        if dim is None:
            return None
        embedding = guidance_scale_embedding(guidance_scale, batch_size, dim)
        return embedding.to(device=latents.device, dtype=latents.dtype)

    # ---------------------------------------------------------------------- decoding

    def _decode(
        self,
        latents: torch.Tensor,
        output_type: str,
        generator: Any,
        dtype: torch.dtype,
        scaling_factor: float | None = None,
    ) -> tuple[Any, list[bool] | None]:
        """Latents -> images of `output_type`, flagged ones blacked out; and the flags.

        `scaling_factor` overrides the VAE config's (the x4 upscaler fixes it at 0.08333).
        """
        if output_type == "latent":
            return latents, None
        scaled = latents / (scaling_factor or self.vae.config.scaling_factor)
        decoded = self.vae.decode(scaled, return_dict=False, generator=generator)[0]
        images, flags = run_safety_checker(
            self.safety_checker, self.feature_extractor, decoded, self._execution_device, dtype
        )
        denormalize = [True] * images.shape[0] if flags is None else [not f for f in flags]
        return self.image_processor.postprocess(images, output_type, denormalize), flags

    @staticmethod
    def _output(images: Any, flags: list[bool] | None, return_dict: bool) -> Any:
        if not return_dict:
            return images, flags
        return StableDiffusionPipelineOutput(images=images, nsfw_content_detected=flags)


def _check_safety_components(
    pipeline: str, safety_checker: Any, feature_extractor: Any, required: bool
) -> None:
    if safety_checker is not None and feature_extractor is None:
        raise ValueError(
            f"feature_extractor: {pipeline}'s safety_checker needs a feature_extractor (a CLIP "
            "image processor), found None; pass one, or pass safety_checker=None"
        )
    if safety_checker is None and required:
        warnings.warn(
            f"{pipeline}: safety_checker=None disables the safety checker. Keep to the Stable "
            "Diffusion license and do not show unfiltered results in public services; keep the "
            "filter on wherever the output is public. Pass requires_safety_checker=False to "
            "silence this warning.",
            DiffusekitWarning,
            stacklevel=4,
        )
