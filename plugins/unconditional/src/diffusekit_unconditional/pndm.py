"""PNDMPipeline: pseudo numerical methods on the DDPM noise schedule."""

from __future__ import annotations

from typing import Any

import torch

from diffusekit import kernel

from ._base import UnconditionalPipeline
from ._noise import Generator, image_shape, randn
from ._output import image_output, output_type_of, warn_ignored


class PNDMPipeline(UnconditionalPipeline):
    """Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models on Manifolds",
    arXiv:2202.09778.

    A DDPM-trained UNet sampled with PNDM's pseudo linear multistep steps (after
    Runge-Kutta warm-up steps unless the scheduler skips them). Components: `unet`
    (UNet2DModel), `scheduler` (PNDMScheduler).
    """

    def __init__(self, unet: Any, scheduler: Any) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        num_inference_steps: int = 50,
        generator: Generator = None,
        output_type: str | None = "pil",
        return_dict: bool = True,
        *,
        callback_on_step_end: kernel.Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Sample `batch_size` images; `output_type`: ``"pil"``, ``"np"`` or ``"pt"``."""
        warn_ignored(self, kwargs)
        output_type = output_type_of(output_type)
        device = self._execution_device
        images = randn(image_shape(self.unet, batch_size), generator, device, self.unet.dtype)
        run = kernel.schedule(self.scheduler, num_inference_steps, device)
        images = self._denoise(
            run,
            images,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        return image_output(images, output_type, return_dict)
