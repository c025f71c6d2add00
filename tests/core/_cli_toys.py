"""Toy pipelines for the CLI tests: an unconditional one (through the kernel), a text one that
records what it was called with, and an audio one. Registered as ``diffusers.<Name>``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from diffusekit import kernel, registry
from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin
from diffusekit.outputs import AudioPipelineOutput, ImagePipelineOutput
from diffusekit.pipeline import DiffusionPipeline
from diffusekit.scheduling import SchedulerConfig, SchedulerMixin, SchedulerOutput

#: What each toy call saw, newest last (tests read it; the pipelines never read it back).
CALLS: list[dict[str, Any]] = []


class ToyNetConfig(BaseConfig):
    sample_size: int = 8
    sample_rate: int | None = None


class ToyNet(ModelMixin):
    config_class = ToyNetConfig

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.scale = torch.nn.Parameter(torch.tensor([0.5, 0.25]))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.scale[0] * x + self.scale[1] * torch.sin(x * (1 + t.float() / 10))


class ToySchedulerConfig(SchedulerConfig):
    num_train_timesteps: int = 10
    shrink: float = 0.3
    use_karras_sigmas: bool = False


class ToyScheduler(SchedulerMixin):
    config_class = ToySchedulerConfig
    compatibility_families: ClassVar[tuple[str, ...]] = ("cli-toy",)
    init_noise_sigma = 1.0

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        top = self.config.num_train_timesteps - 1
        self.timesteps = torch.linspace(top, 0, num_inference_steps).long().to(device)

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        return sample

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor) -> Any:
        shrink = self.config.shrink * (2.0 if self.config.use_karras_sigmas else 1.0)
        return SchedulerOutput(prev_sample=sample - shrink * model_output)


class ToyEulerScheduler(ToyScheduler):
    """Registered as diffusers.EulerDiscreteScheduler, so the `euler` alias finds it."""


class UnrelatedScheduler(ToyScheduler):
    compatibility_families: ClassVar[tuple[str, ...]] = ("something-else",)


def per_item_noise(shape: tuple[int, ...], generator: Any, dtype: torch.dtype) -> torch.Tensor:
    gens = generator if isinstance(generator, list) else [generator] * shape[0]
    one = (1, *shape[1:])
    return torch.cat([torch.randn(one, generator=g, dtype=dtype) for g in gens[: shape[0]]])


def to_pil(images: torch.Tensor) -> list[Any]:
    array = ((images.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).float().cpu().numpy()
    return DiffusionPipeline.numpy_to_pil(array)


class ToyImagePipeline(DiffusionPipeline):
    def __init__(self, unet: ToyNet, scheduler: SchedulerMixin) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    def __call__(
        self,
        batch_size: int = 1,
        generator: Any = None,
        num_inference_steps: int = 4,
        output_type: str = "pil",
        return_dict: bool = True,
    ) -> Any:
        size = self.unet.config.sample_size
        latents = per_item_noise((batch_size, 3, size, size), generator, self.unet.dtype)
        latents = latents.to(self._execution_device)
        run = kernel.schedule(self.scheduler, num_inference_steps, self._execution_device)
        CALLS.append(
            {
                "scheduler": type(run.scheduler).__name__,
                "scheduler_config": dict(run.scheduler.config),
                "dtype": self.unet.dtype,
                "device": self._execution_device,
                "generator": generator,
                "batch_size": batch_size,
            }
        )
        latents = kernel.denoise(
            self, run, {"latents": latents}, denoiser=lambda x, t, s: self.unet(x, t)
        )
        return ImagePipelineOutput(images=to_pil(latents) if output_type == "pil" else latents)


class ToyTextPipeline(DiffusionPipeline):
    def __init__(self, unet: ToyNet, scheduler: SchedulerMixin) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    def __call__(
        self,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 4,
        guidance_scale: float = 7.5,
        num_images_per_prompt: int = 1,
        generator: Any = None,
        output_type: str = "np",
    ) -> Any:
        height = height or 8
        width = width or 16
        if height % 8 or width % 8:
            raise ValueError(f"height and width must be multiples of 8, found {height}x{width}")
        CALLS.append({k: v for k, v in locals().items() if k != "self"})
        value = np.full((num_images_per_prompt, height, width, 3), guidance_scale / 10)
        return ImagePipelineOutput(images=value if output_type == "np" else to_pil_np(value))


def to_pil_np(images: np.ndarray) -> list[Any]:
    return DiffusionPipeline.numpy_to_pil(np.clip(images, 0, 1))


class ToyAudioPipeline(DiffusionPipeline):
    def __init__(self, unet: ToyNet) -> None:
        super().__init__()
        self.register_modules(unet=unet)

    def __call__(self, batch_size: int = 1, generator: Any = None, return_dict: bool = True):
        noise = per_item_noise((batch_size, 2, 64), generator, torch.float32)
        return AudioPipelineOutput(audios=(0.2 * noise).numpy())


TOYS: dict[str, type] = {
    "ToyNet": ToyNet,
    "ToyScheduler": ToyScheduler,
    "EulerDiscreteScheduler": ToyEulerScheduler,
    "UnrelatedScheduler": UnrelatedScheduler,
    "ToyImagePipeline": ToyImagePipeline,
    "ToyTextPipeline": ToyTextPipeline,
    "ToyAudioPipeline": ToyAudioPipeline,
}


@contextmanager
def toy_classes() -> Iterator[None]:
    with ExitStack() as stack:
        for name, cls in TOYS.items():
            stack.enter_context(registry.registered("diffusers", name, cls))
        yield


def write_checkpoint(folder: Path, kind: str = "image", **net_config: Any) -> Path:
    """Save a toy checkpoint of `kind` (image, text, audio) to `folder`."""
    torch.manual_seed(0)
    unet = ToyNet(**net_config)
    if kind == "audio":
        pipeline: DiffusionPipeline = ToyAudioPipeline(unet=unet)
    else:
        cls = ToyImagePipeline if kind == "image" else ToyTextPipeline
        pipeline = cls(unet=unet, scheduler=ToyScheduler())
    pipeline.save_pretrained(folder)
    return folder
