"""LDMPipeline: unconditional latent diffusion with a VQ autoencoder."""

from __future__ import annotations

from typing import Any

import torch

from diffusekit import kernel
from diffusekit.outputs import ImagePipelineOutput
from diffusekit.pipeline import DiffusionPipeline

from ._base import UnconditionalPipeline
from ._noise import Generator
from ._output import IMAGE_OUTPUT_TYPES, image_output, output_type_of, warn_ignored


class LDMPipeline(UnconditionalPipeline):
    """Rombach et al. 2022, "High-Resolution Image Synthesis with Latent Diffusion Models",
    arXiv:2112.10752, unconditional.

    The UNet denoises in the latent space of `vqvae` (VQModel); the latents are divided by
    its `scaling_factor` and decoded (through its quantizer) at the end. Components: `vqvae`,
    `unet` (UNet2DModel), `scheduler` (DDIMScheduler).
    """

    def __init__(self, vqvae: Any, unet: Any, scheduler: Any) -> None:
        DiffusionPipeline.__init__(self)
        self.register_modules(vqvae=vqvae, unet=unet, scheduler=scheduler)

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        generator: Generator = None,
        eta: float = 0.0,
        num_inference_steps: int = 50,
        output_type: str | None = "pil",
        return_dict: bool = True,
        *,
        callback_on_step_end: kernel.Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Sample `batch_size` images.

        `eta` goes to schedulers that take it (DDIM's noise scale; its noise comes from the
        global RNG, as in the reference). `output_type`: ``"pil"``, ``"np"``, ``"pt"`` or
        ``"latent"`` (the denoised latents, not decoded).
        """
        warn_ignored(self, kwargs)
        output_type = output_type_of(output_type, (*IMAGE_OUTPUT_TYPES, "latent"))
        noise = self._initial_noise(batch_size, generator)
        run = kernel.schedule(self.scheduler, num_inference_steps, self._execution_device)
        latents = self._denoise(
            run,
            noise * run.scheduler.init_noise_sigma,
            step_options={"eta": eta},
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        if output_type == "latent":
            return ImagePipelineOutput(images=latents) if return_dict else (latents,)
        latents = latents / self.vqvae.config.scaling_factor
        images = self.vqvae.decode(latents.to(self.vqvae.dtype)).sample
        return image_output(images, output_type, return_dict)
