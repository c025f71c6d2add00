"""PNDMPipeline: pseudo numerical methods on the DDPM noise schedule."""

from __future__ import annotations

from typing import Any

import torch

from diffusekit import kernel

from ._base import UnconditionalPipeline
from ._noise import Generator
from ._output import image_output, output_type_of, warn_ignored


class PNDMPipeline(UnconditionalPipeline):
    """Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models on Manifolds",
    arXiv:2202.09778.

    A DDPM-trained UNet sampled with PNDM's pseudo linear multistep steps (after
    Runge-Kutta warm-up steps unless the scheduler skips them). Components: `unet`
    (UNet2DModel), `scheduler` (PNDMScheduler).
    """

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
        images = self._sample(
            batch_size,
            generator,
            num_inference_steps,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        return image_output(images, output_type, return_dict)
