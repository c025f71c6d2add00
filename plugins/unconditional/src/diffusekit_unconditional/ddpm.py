"""DDPMPipeline: ancestral sampling of a denoising diffusion probabilistic model."""

from __future__ import annotations

from typing import Any

import torch

from diffusekit import kernel

from ._base import UnconditionalPipeline
from ._noise import Generator
from ._output import image_output, output_type_of


class DDPMPipeline(UnconditionalPipeline):
    """Ho et al. 2020, "Denoising Diffusion Probabilistic Models", arXiv:2006.11239.

    Starts from Gaussian noise and runs the scheduler's reverse process (Algorithm 2) with
    the UNet's noise prediction. Components: `unet` (UNet2DModel), `scheduler` (DDPMScheduler
    or any discrete-betas scheduler).
    """

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        generator: Generator = None,
        num_inference_steps: int = 1000,
        output_type: str | None = "pil",
        return_dict: bool = True,
        *,
        callback_on_step_end: kernel.Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> Any:
        """Sample `batch_size` images; `generator` is one generator or one per image.

        `output_type`: ``"pil"`` (list of PIL images), ``"np"`` (array (batch, H, W, C) in
        [0, 1]) or ``"pt"`` (tensor (batch, C, H, W) in [0, 1]).
        """
        output_type = output_type_of(output_type)
        images = self._sample(
            batch_size,
            generator,
            num_inference_steps,
            step_options={"generator": generator},
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        return image_output(images, output_type, return_dict)
