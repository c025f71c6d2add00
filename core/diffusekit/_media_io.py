"""Reading images and writing results: load_image, make_image_grid, export_to_gif, export_to_wav."""

from __future__ import annotations

import io
import os
import tempfile
import urllib.request
import wave
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageOps

from ._image_arrays import is_tensor

#: Seconds to wait for an image server; the environment variable overrides it.
REQUEST_TIMEOUT_VAR = "DIFFUSEKIT_REQUEST_TIMEOUT"
DEFAULT_REQUEST_TIMEOUT = 60.0

PathLike = str | os.PathLike[str]


def _request_timeout() -> float:
    raw = os.environ.get(REQUEST_TIMEOUT_VAR, "")
    try:
        return float(raw) if raw.strip() else DEFAULT_REQUEST_TIMEOUT
    except ValueError:
        raise ValueError(
            f"{REQUEST_TIMEOUT_VAR}: expected a number of seconds, found {raw!r}"
        ) from None


def _open_url(url: str) -> PIL.Image.Image:
    request = urllib.request.Request(url, headers={"User-Agent": "diffusekit"})
    with urllib.request.urlopen(request, timeout=_request_timeout()) as response:
        data = response.read()
    try:
        return PIL.Image.open(io.BytesIO(data))
    except PIL.UnidentifiedImageError as exc:
        raise ValueError(f"load_image: {url} did not return an image ({len(data)} bytes)") from exc


def load_image(
    image: PathLike | PIL.Image.Image,
    convert_method: Callable[[PIL.Image.Image], PIL.Image.Image] | None = None,
) -> PIL.Image.Image:
    """A PIL image from a local path, an http(s) URL, or a PIL image.

    The EXIF orientation is applied (photos come out upright), then `convert_method` if given,
    else conversion to RGB.
    """
    if isinstance(image, PIL.Image.Image):
        loaded = image
    elif isinstance(image, (str, os.PathLike)):
        text = os.fspath(image)
        if text.startswith(("http://", "https://")):
            loaded = _open_url(text)
        elif os.path.isfile(text):
            loaded = PIL.Image.open(text)
        else:
            raise ValueError(
                f"load_image: expected an http(s) URL or the path of an existing file, "
                f"found {text!r}"
            )
    else:
        raise TypeError(
            f"load_image: expected a path, a URL or a PIL image, found {type(image).__name__}"
        )
    upright = PIL.ImageOps.exif_transpose(loaded)
    if convert_method is not None:
        return convert_method(upright)
    return upright.convert("RGB")


def make_image_grid(
    images: Sequence[PIL.Image.Image], rows: int, cols: int, resize: int | None = None
) -> PIL.Image.Image:
    """One RGB image holding `images` row by row, each cell the size of the first image
    (or `resize` x `resize` when given)."""
    if len(images) != rows * cols:
        raise ValueError(
            f"make_image_grid: {rows} rows x {cols} cols needs {rows * cols} images, "
            f"found {len(images)}"
        )
    if resize is not None:
        images = [image.resize((resize, resize)) for image in images]
    cell_w, cell_h = images[0].size
    grid = PIL.Image.new("RGB", (cols * cell_w, rows * cell_h))
    for index, image in enumerate(images):
        row, col = divmod(index, cols)
        grid.paste(image, box=(col * cell_w, row * cell_h))
    return grid


def _output_path(path: PathLike | None, suffix: str) -> str:
    if path is not None:
        return os.fspath(path)
    handle, name = tempfile.mkstemp(suffix=suffix)
    os.close(handle)
    return name


def export_to_gif(
    image: Sequence[PIL.Image.Image], output_gif_path: PathLike | None = None, fps: int = 10
) -> str:
    """Write the frames in `image` as a looping GIF at `fps` frames per second; return the path
    (a new temporary file when `output_gif_path` is None)."""
    if not image:
        raise ValueError("export_to_gif: expected at least one frame, found none")
    path = _output_path(output_gif_path, ".gif")
    first, *rest = image
    first.save(
        path, save_all=True, append_images=rest, optimize=False, duration=1000 // fps, loop=0
    )
    return path


def _to_pcm16(audio: Any) -> np.ndarray:
    """Samples (channels, samples) or (samples,) -> int16 interleaved (samples, channels)."""
    if is_tensor(audio):
        audio = audio.detach().cpu().float().numpy()
    samples = np.asarray(audio)
    if samples.ndim == 1:
        samples = samples[None]
    if samples.ndim != 2:
        raise ValueError(
            "export_to_wav: expected audio shaped (channels, samples) or (samples,), "
            f"found shape {samples.shape}; pass one item of a batch, e.g. audios[0]"
        )
    if samples.dtype == np.int16:
        return np.ascontiguousarray(samples.T)
    if not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(
            f"export_to_wav: expected float samples in [-1, 1] or int16, found {samples.dtype}"
        )
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    return np.ascontiguousarray(pcm.T)


def export_to_wav(audio: Any, output_wav_path: PathLike | None, sample_rate: int) -> str:
    """Write `audio` (float in [-1, 1] or int16; (channels, samples) as Dance Diffusion gives
    each item, or (samples,)) as a 16-bit PCM WAV file; return the path."""
    if sample_rate <= 0:
        raise ValueError(f"export_to_wav: sample_rate must be positive, found {sample_rate}")
    frames = _to_pcm16(audio)
    path = _output_path(output_wav_path, ".wav")
    with wave.open(path, "wb") as writer:
        writer.setnchannels(frames.shape[1])
        writer.setsampwidth(2)
        writer.setframerate(int(sample_rate))
        writer.writeframes(frames.astype("<i2").tobytes())
    return str(Path(path))
