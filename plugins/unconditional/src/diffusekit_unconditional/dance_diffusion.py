"""DanceDiffusionPipeline: unconditional audio generation with a 1-d UNet."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from diffusekit import kernel
from diffusekit.outputs import AudioPipelineOutput

from ._base import UnconditionalPipeline
from ._noise import Generator, randn
from ._output import output_type_of


def audio_lengths(unet: Any, audio_length_in_s: float | None) -> tuple[int, int]:
    """(samples to generate, samples to keep): the length rounded up to what the UNet takes.

    Each up block halves the length on the way down, so the generated length is a multiple
    of 2 ** len(up_blocks) and at least three times it; the extra samples are cut off.
    """
    config = unet.config
    if config.sample_rate is None:
        raise ValueError(
            "unet.config.sample_rate: DanceDiffusionPipeline needs the UNet's audio sample "
            "rate, found None"
        )
    seconds = audio_length_in_s
    if seconds is None:
        seconds = config.sample_size / config.sample_rate
    wanted = seconds * config.sample_rate
    factor = 2 ** len(unet.up_blocks)
    if wanted < 3 * factor:
        raise ValueError(
            f"audio_length_in_s: expected at least {3 * factor / config.sample_rate} s "
            f"(three times the UNet's downsampling factor {factor}), found {seconds}"
        )
    keep = int(wanted)
    generated = wanted if wanted % factor == 0 else (wanted // factor + 1) * factor
    return int(generated), keep


class DanceDiffusionPipeline(UnconditionalPipeline):
    """Dance Diffusion (Harmonai): unconditional audio from a 1-d UNet.

    The UNet is sampled with iPNDM (Zhang & Chen 2022, arXiv:2204.13902) on the
    sin^2 noise schedule of the v-diffusion models. Components: `unet` (UNet1DModel with a
    `sample_rate`), `scheduler` (IPNDMScheduler).
    """

    @torch.no_grad()
    def __call__(
        self,
        batch_size: int = 1,
        num_inference_steps: int = 100,
        generator: Generator = None,
        audio_length_in_s: float | None = None,
        return_dict: bool = True,
        *,
        output_type: str | None = "np",
        callback_on_step_end: kernel.Callback | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> Any:
        """Generate `batch_size` clips (batch, channels, samples) in [-1, 1].

        `audio_length_in_s` defaults to the UNet's ``sample_size / sample_rate``.
        `output_type`: ``"np"`` (float32 array, as the reference returns) or ``"pt"``.
        """
        output_type = output_type_of(output_type, ("np", "pt"))
        generated, keep = audio_lengths(self.unet, audio_length_in_s)
        dtype = self.unet.dtype
        shape = (batch_size, self.unet.config.in_channels, generated)
        audio = randn(shape, generator, self._execution_device, dtype)
        run = kernel.schedule(self.scheduler, num_inference_steps, audio.device)
        run.scheduler.timesteps = run.scheduler.timesteps.to(dtype)
        run = dataclasses.replace(run, timesteps=run.scheduler.timesteps)
        audio = self._denoise(
            run,
            audio,
            callback_on_step_end=callback_on_step_end,
            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
        )
        audio = audio.clamp(-1, 1).float()[:, :, :keep]
        result: Any = audio.cpu().numpy() if output_type == "np" else audio
        return AudioPipelineOutput(audios=result) if return_dict else (result,)
