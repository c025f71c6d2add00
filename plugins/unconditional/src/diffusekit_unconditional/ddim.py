"""DDIMPipeline: deterministic (or partly stochastic) sampling with DDIM's update."""

from __future__ import annotations

import warnings
from typing import Any

import torch

from diffusekit import kernel
from diffusekit.errors import DiffusekitWarning

from ._base import UnconditionalPipeline
from ._noise import Generator
from ._output import image_output, output_type_of


class DDIMPipeline(UnconditionalPipeline):
    """Song et al. 2021, "Denoising Diffusion Implicit Models", arXiv:2010.02502.

    `eta` scales the noise of each step (eq. 16): 0 is the deterministic DDIM sampler, 1 the
    DDPM posterior. Components: `unet` (UNet2DModel), `scheduler` (DDIMScheduler, or any
    scheduler of the discrete-betas family, which is given only the options it declares).
    """

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        generator: Generator = None,
        eta: float = 0.0,
        num_inference_steps: int = 50,
        use_clipped_model_output: bool | None = None,
        output_type: str | None = "pil",
        return_dict: bool = True,
        *,
        callback_on_step_end: kernel.Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> Any:
        """Sample `batch_size` images in `num_inference_steps` DDIM steps.

        `use_clipped_model_output` (None: the scheduler's default) recomputes the noise from
        the clipped x0 prediction. `output_type`: ``"pil"``, ``"np"`` or ``"pt"``.
        """
        output_type = output_type_of(output_type)
        if not 0.0 <= eta <= 1.0:
            warnings.warn(
                f"eta: expected a value in [0, 1] (0 is DDIM, 1 is DDPM), found {eta}",
                DiffusekitWarning,
                stacklevel=3,
            )
        options: dict[str, Any] = {"eta": eta, "generator": generator}
        if use_clipped_model_output is not None:
            options["use_clipped_model_output"] = use_clipped_model_output
        images = self._sample(
            batch_size,
            generator,
            num_inference_steps,
            step_options=options,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        return image_output(images, output_type, return_dict)
