"""Write what a pipeline returned: one file, or numbered files plus a grid beside `--output`.

`out.png` with three images gives ``out-0.png``, ``out-1.png``, ``out-2.png`` and
``out-grid.png``; audio gives ``.wav`` files at the pipeline's sample rate. Images carry the
settings that made them (seed, steps, ...) in a PNG text chunk named ``diffusekit``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

IMAGE_DEFAULT = Path("diffusekit-output.png")
AUDIO_SUFFIX = ".wav"


def numbered(path: Path, count: int) -> list[Path]:
    """`path` itself for one item, else ``stem-0.suffix``, ``stem-1.suffix``, ..."""
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(count)]


def grid_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}-grid{path.suffix}")


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, cols): as square as possible, wider than tall."""
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def save_images(images: list[Any], path: Path, settings: list[dict[str, Any]]) -> list[Path]:
    """Save each image (PIL), and a grid when there are several; return the paths written."""
    import PIL.Image
    import PIL.PngImagePlugin

    from ..image import make_image_grid

    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for image, target, info in zip(images, numbered(path, len(images)), settings):
        chunk = PIL.PngImagePlugin.PngInfo()
        chunk.add_text("diffusekit", json.dumps(info))
        image.save(target, pnginfo=chunk if target.suffix.lower() == ".png" else None)
        written.append(target)
    if len(images) > 1:
        rows, cols = grid_shape(len(images))
        blank = PIL.Image.new("RGB", images[0].size)
        cells = [*images, *[blank] * (rows * cols - len(images))]
        grid = make_image_grid(cells, rows=rows, cols=cols)
        grid.save(grid_path(path))
        written.append(grid_path(path))
    return written


def save_audio(audios: Any, path: Path, sample_rate: int) -> list[Path]:
    """Save each item of `audios` (batch, channels, samples) as 16-bit WAV."""
    from ..image import export_to_wav

    path = path.with_suffix(AUDIO_SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    targets = numbered(path, len(audios))
    for audio, target in zip(audios, targets):
        export_to_wav(audio, target, sample_rate)
    return targets


def sample_rate_of(pipeline: Any) -> int:
    config = getattr(getattr(pipeline, "unet", None), "config", None)
    rate = None if config is None else dict(config).get("sample_rate")
    if not isinstance(rate, int):
        raise ValueError(
            f"{type(pipeline).__name__} returned audio but its unet config has no integer "
            f"'sample_rate' (found {rate!r}), so the WAV rate is unknown"
        )
    return rate


def as_pil(images: Any) -> list[Any]:
    """PIL images from whatever `images` holds (pipelines asked for "pil" may return arrays)."""
    import PIL.Image

    if isinstance(images, list) and all(isinstance(i, PIL.Image.Image) for i in images):
        return images
    from .._image_arrays import numpy_to_pil

    if hasattr(images, "detach"):
        images = images.detach().float().cpu().permute(0, 2, 3, 1).numpy()
    return numpy_to_pil(images)
