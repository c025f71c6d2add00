"""Resizing PIL images three ways, and the crop-and-paste-back steps of masked inpainting.

Resize modes (the reference's names and results):

- ``"default"``: stretch to the target size, aspect ratio not kept.
- ``"fill"``: fit inside the target keeping the aspect ratio, centre it, and fill the two empty
  bands by stretching the image's outermost row or column across them.
- ``"crop"``: cover the target keeping the aspect ratio, centre it, cut what sticks out.

"fill" and "crop" return RGB images, as the reference does.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import PIL.Image
import PIL.ImageOps

Resample = Literal["linear", "bilinear", "bicubic", "lanczos", "nearest"]
ResizeMode = Literal["default", "fill", "crop"]

RESAMPLE_FILTERS: dict[str, PIL.Image.Resampling] = {
    "linear": PIL.Image.Resampling.BILINEAR,
    "bilinear": PIL.Image.Resampling.BILINEAR,
    "bicubic": PIL.Image.Resampling.BICUBIC,
    "lanczos": PIL.Image.Resampling.LANCZOS,
    "nearest": PIL.Image.Resampling.NEAREST,
}
RESIZE_MODES: tuple[str, ...] = ("default", "fill", "crop")


def resize_pil(
    image: PIL.Image.Image,
    width: int,
    height: int,
    mode: str = "default",
    resample: str = "lanczos",
    reducing_gap: float | None = None,
) -> PIL.Image.Image:
    """Resize `image` to `width` x `height` with one of the `RESIZE_MODES`."""
    if resample not in RESAMPLE_FILTERS:
        raise ValueError(
            f"resample: expected one of {sorted(RESAMPLE_FILTERS)}, found {resample!r}"
        )
    pil_filter = RESAMPLE_FILTERS[resample]
    if mode == "default":
        return image.resize((width, height), resample=pil_filter, reducing_gap=reducing_gap)
    if mode == "fill":
        return _fit_and_fill(image, width, height, pil_filter)
    if mode == "crop":
        return _cover_and_crop(image, width, height, pil_filter)
    raise ValueError(f"resize_mode: expected one of {list(RESIZE_MODES)}, found {mode!r}")


def _scaled_size(
    image: PIL.Image.Image, width: int, height: int, match_width: bool
) -> tuple[int, int]:
    """The image's size scaled to the target's width (or height), in PIL's integer sizes."""
    if match_width:
        return width, image.height * width // image.width
    return image.width * height // image.height, height


def _centred(scaled: PIL.Image.Image, width: int, height: int) -> PIL.Image.Image:
    canvas = PIL.Image.new("RGB", (width, height))
    canvas.paste(scaled, box=(width // 2 - scaled.width // 2, height // 2 - scaled.height // 2))
    return canvas


def _cover_and_crop(
    image: PIL.Image.Image, width: int, height: int, pil_filter: PIL.Image.Resampling
) -> PIL.Image.Image:
    scaled = image.resize(
        _scaled_size(image, width, height, width / height > image.width / image.height),
        resample=pil_filter,
    )
    return _centred(scaled, width, height)


def _fit_and_fill(
    image: PIL.Image.Image, width: int, height: int, pil_filter: PIL.Image.Resampling
) -> PIL.Image.Image:
    target_ratio, source_ratio = width / height, image.width / image.height
    size = _scaled_size(image, width, height, target_ratio < source_ratio)
    scaled = image.resize(size, resample=pil_filter)
    canvas = _centred(scaled, width, height)
    if target_ratio < source_ratio:
        band = height // 2 - scaled.height // 2
        if band > 0:
            top = scaled.resize((width, band), box=(0, 0, width, 0))
            bottom = scaled.resize((width, band), box=(0, scaled.height, width, scaled.height))
            canvas.paste(top, box=(0, 0))
            canvas.paste(bottom, box=(0, band + scaled.height))
    elif target_ratio > source_ratio:
        band = width // 2 - scaled.width // 2
        if band > 0:
            left = scaled.resize((band, height), box=(0, 0, 0, height))
            right = scaled.resize((band, height), box=(scaled.width, 0, scaled.width, height))
            canvas.paste(left, box=(0, 0))
            canvas.paste(right, box=(band + scaled.width, 0))
    return canvas


def get_crop_region(
    mask_image: PIL.Image.Image, width: int, height: int, pad: int = 0
) -> tuple[int, int, int, int]:
    """The box (x1, y1, x2, y2) around the mask's non-zero pixels, padded by `pad`, then grown
    to the aspect ratio `width` / `height` of the processing size and kept inside the image.

    Used by inpainting's `padding_mask_crop`: only this box is repainted, at full resolution.
    """
    mask = np.asarray(mask_image.convert("L"))
    columns = np.flatnonzero(mask.any(axis=0))
    rows = np.flatnonzero(mask.any(axis=1))
    if columns.size == 0:
        raise ValueError("get_crop_region: mask_image has no non-zero pixel, nothing to crop to")
    image_h, image_w = mask.shape
    x1, x2 = max(int(columns[0]) - pad, 0), min(int(columns[-1]) + 1 + pad, image_w)
    y1, y2 = max(int(rows[0]) - pad, 0), min(int(rows[-1]) + 1 + pad, image_h)
    target_ratio = width / height
    if (x2 - x1) / (y2 - y1) > target_ratio:
        y1, y2 = _grow_span(y1, y2, int((x2 - x1) / target_ratio - (y2 - y1)), image_h)
    else:
        x1, x2 = _grow_span(x1, x2, int((y2 - y1) * target_ratio - (x2 - x1)), image_w)
    return x1, y1, x2, y2


def _grow_span(start: int, end: int, grow: int, limit: int) -> tuple[int, int]:
    """Widen [start, end) by `grow` around its centre, sliding it back inside [0, limit)."""
    start -= grow // 2
    end += grow - grow // 2
    if end > limit:
        start, end = start - (end - limit), limit
    if start < 0:
        start, end = 0, end - start
    return start, min(end, limit)


def apply_overlay(
    mask: PIL.Image.Image,
    init_image: PIL.Image.Image,
    image: PIL.Image.Image,
    crop_coords: tuple[int, int, int, int] | None = None,
    resample: str = "lanczos",
) -> PIL.Image.Image:
    """Paste the generated `image` back into `init_image`, keeping original pixels where `mask`
    is black. With `crop_coords`, `image` was generated for that box and is first scaled into it.
    """
    width, height = init_image.size
    kept = PIL.Image.new("RGBa", (width, height))
    kept.paste(
        init_image.convert("RGBA").convert("RGBa"), mask=PIL.ImageOps.invert(mask.convert("L"))
    )
    kept = kept.convert("RGBA")
    if crop_coords is not None:
        x1, y1, x2, y2 = crop_coords
        placed = PIL.Image.new("RGBA", (width, height))
        placed.paste(resize_pil(image, x2 - x1, y2 - y1, "crop", resample), (x1, y1))
        image = placed.convert("RGB")
    result = image.convert("RGBA")
    result.alpha_composite(kept)
    return result.convert("RGB")
