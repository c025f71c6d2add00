"""Output containers that read as attributes, as a mapping, and as a tuple.

``out.images``, ``out["images"]`` and ``out[0]`` all work, and ``images, = out`` unpacks,
so code written against either calling style (``return_dict=True`` or ``False``) keeps working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import PIL.Image
    import torch


class BaseOutput:
    """Mixin for `@dataclass` outputs; fields that are None are left out of the tuple view."""

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(value for _, value in self.items())

    def keys(self) -> list[str]:
        return [name for name, _ in self.items()]

    def items(self) -> list[tuple[str, Any]]:
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        return [
            (f.name, getattr(self, f.name)) for f in fields if getattr(self, f.name) is not None
        ]

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            return dict(self.items())[key]
        return self.to_tuple()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.to_tuple())

    def __len__(self) -> int:
        return len(self.to_tuple())


@dataclass
class ImagePipelineOutput(BaseOutput):
    """What image pipelines return: a list of PIL images, or an array / tensor of images.

    The layout follows `output_type`: ``"pil"`` gives a list of `PIL.Image.Image`, ``"np"`` a
    float array shaped (batch, height, width, channels) in [0, 1], ``"pt"`` a tensor shaped
    (batch, channels, height, width), ``"latent"`` the latents unchanged.
    """

    images: list[PIL.Image.Image] | np.ndarray | torch.Tensor


@dataclass
class AudioPipelineOutput(BaseOutput):
    """What audio pipelines return: samples shaped (batch, channels, samples), in [-1, 1]."""

    audios: np.ndarray | torch.Tensor
