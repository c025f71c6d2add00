"""Image and audio pre/post-processing for pipelines: `VaeImageProcessor` and file helpers.

`VaeImageProcessor` turns what users pass (PIL images, numpy arrays, torch tensors, lists of
them) into the VAE's input batch, and the VAE's output back into PIL images, arrays or tensors,
with the reference's config fields and numbers. A mask processor is the same class configured
``do_normalize=False, do_binarize=True, do_convert_grayscale=True``.

torch is imported only when a tensor is made, so loading this module stays cheap.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import PIL.Image
import PIL.ImageFilter
import pydantic

from . import _image_arrays as arrays
from . import _image_geometry as geometry
from ._image_arrays import is_tensor, is_valid_image, is_valid_image_list
from ._image_inputs import as_image_list, concat_images
from ._media_io import export_to_gif, export_to_wav, load_image, make_image_grid
from .config import BaseConfig, ConfigMixin
from .errors import DiffusekitWarning

if TYPE_CHECKING:
    import torch

    PipelineImageInput = (
        PIL.Image.Image
        | np.ndarray
        | torch.Tensor
        | list[PIL.Image.Image]
        | list[np.ndarray]
        | list[torch.Tensor]
    )
else:
    PipelineImageInput = Any

__all__ = [
    "PipelineImageInput",
    "VaeImageProcessor",
    "VaeImageProcessorConfig",
    "export_to_gif",
    "export_to_wav",
    "is_valid_image",
    "is_valid_image_list",
    "load_image",
    "make_image_grid",
]

OutputType = Literal["pil", "np", "pt", "latent"]
OUTPUT_TYPES: tuple[str, ...] = ("pil", "np", "pt", "latent")


class VaeImageProcessorConfig(BaseConfig):
    """Configuration of `VaeImageProcessor` (the reference's field names and defaults)."""

    do_resize: bool = True
    """Round (height, width) down to multiples of `vae_scale_factor`, and resize to them."""
    vae_scale_factor: int = pydantic.Field(default=8, ge=1)
    """The VAE's spatial downsampling factor: 2 ** (number of VAE blocks - 1)."""
    vae_latent_channels: int = 4
    """Tensors with this many channels are taken for latents and passed through unchanged."""
    resample: geometry.Resample = "lanczos"
    """PIL filter for resizing PIL images."""
    reducing_gap: float | None = None
    """PIL's `reducing_gap` for the default resize: faster, slightly less exact downscaling."""
    do_normalize: bool = True
    """Map [0, 1] to [-1, 1] in `preprocess`, and back in `postprocess`."""
    do_binarize: bool = False
    """Threshold at 0.5 after preprocessing (masks)."""
    do_convert_rgb: bool = False
    """Convert PIL inputs to RGB."""
    do_convert_grayscale: bool = False
    """Convert PIL inputs to one-channel grey, and read 3-d arrays as batches of grey images."""

    @pydantic.model_validator(mode="after")
    def _one_colour_conversion(self) -> VaeImageProcessorConfig:
        if self.do_convert_rgb and self.do_convert_grayscale:
            raise ValueError(
                "do_convert_rgb and do_convert_grayscale are both true; set at most one of them"
            )
        return self


class VaeImageProcessor(ConfigMixin):
    """Pre- and post-processing between user images and a VAE's pixel space.

    `preprocess` returns a float tensor (batch, channels, height, width), in [-1, 1] when
    `do_normalize`; `postprocess` takes the decoder's output and returns ``output_type``.
    """

    config_class = VaeImageProcessorConfig
    config_name = "config.json"

    numpy_to_pil = staticmethod(arrays.numpy_to_pil)
    pil_to_numpy = staticmethod(arrays.pil_to_numpy)
    numpy_to_pt = staticmethod(arrays.numpy_to_pt)
    pt_to_numpy = staticmethod(arrays.pt_to_numpy)
    normalize = staticmethod(arrays.normalize)
    denormalize = staticmethod(arrays.denormalize)
    get_crop_region = staticmethod(geometry.get_crop_region)

    @staticmethod
    def convert_to_rgb(image: PIL.Image.Image) -> PIL.Image.Image:
        return image.convert("RGB")

    @staticmethod
    def convert_to_grayscale(image: PIL.Image.Image) -> PIL.Image.Image:
        return image.convert("L")

    @staticmethod
    def blur(image: PIL.Image.Image, blur_factor: float = 4) -> PIL.Image.Image:
        """Gaussian blur with radius `blur_factor`: softens a mask's edge before inpainting."""
        return image.filter(PIL.ImageFilter.GaussianBlur(blur_factor))

    def binarize(self, image: Any) -> Any:
        """Values below 0.5 become 0, the others 1 (a new array or tensor)."""
        return arrays.binarize(image)

    # ------------------------------------------------------------------------------ sizes

    def get_default_height_width(
        self, image: Any, height: int | None = None, width: int | None = None
    ) -> tuple[int, int]:
        """(height, width) of `image` unless given, each rounded down to a multiple of
        `vae_scale_factor`. Arrays are read as (batch, height, width, ...), tensors as
        (batch, channels, height, width)."""
        if isinstance(image, PIL.Image.Image):
            size = (image.height, image.width)
        elif is_tensor(image):
            size = (image.shape[2], image.shape[3])
        else:
            size = (image.shape[1], image.shape[2])
        height = size[0] if height is None else height
        width = size[1] if width is None else width
        factor = self.config.vae_scale_factor
        return height - height % factor, width - width % factor

    def resize(self, image: Any, height: int, width: int, resize_mode: str = "default") -> Any:
        """Resize a PIL image (any `resize_mode`), or a batch array / tensor (nearest neighbour,
        ``"default"`` only)."""
        if isinstance(image, PIL.Image.Image):
            return geometry.resize_pil(
                image,
                width,
                height,
                resize_mode,
                self.config.resample,
                self.config.reducing_gap,
            )
        if resize_mode != "default":
            raise ValueError(
                f"resize_mode {resize_mode!r} needs PIL images, found {type(image).__name__}"
            )
        import torch.nn.functional as F

        if is_tensor(image):
            return F.interpolate(image, size=(height, width))
        resized = F.interpolate(arrays.numpy_to_pt(image), size=(height, width))
        return arrays.pt_to_numpy(resized)

    # ------------------------------------------------------------------------- preprocess

    def preprocess(
        self,
        image: PipelineImageInput,
        height: int | None = None,
        width: int | None = None,
        resize_mode: str = "default",
        crops_coords: tuple[int, int, int, int] | None = None,
    ) -> torch.Tensor:
        """User image(s) -> a tensor batch (batch, channels, height, width) for the VAE.

        Arrays are (height, width, channels) or (batch, height, width, channels) in [0, 1];
        tensors (channels, height, width) or (batch, channels, height, width) in [0, 1]. A
        tensor already in [-1, 1] is not normalized again (with a warning). A tensor (not an
        array) with `vae_latent_channels` channels is taken for latents and returned unchanged.
        `resize_mode` and `crops_coords` apply to PIL images only.
        """
        if resize_mode not in geometry.RESIZE_MODES:
            raise ValueError(
                f"resize_mode: expected one of {list(geometry.RESIZE_MODES)}, found {resize_mode!r}"
            )
        items = as_image_list(image, grey=self.config.do_convert_grayscale)
        if isinstance(items[0], PIL.Image.Image):
            batch = self._pil_batch(items, height, width, resize_mode, crops_coords)
        else:
            batch = concat_images(items)
            if isinstance(batch, np.ndarray):
                batch = arrays.numpy_to_pt(batch)
            else:
                if self.config.do_convert_grayscale and batch.ndim == 3:
                    batch = batch.unsqueeze(1)
                if batch.shape[1] == self.config.vae_latent_channels:
                    return batch
            if self.config.do_resize:
                height, width = self.get_default_height_width(batch, height, width)
                batch = self.resize(batch, height, width)
        return self._finish(batch)

    def _pil_batch(
        self,
        images: list[PIL.Image.Image],
        height: int | None,
        width: int | None,
        resize_mode: str,
        crops_coords: tuple[int, int, int, int] | None,
    ) -> torch.Tensor:
        if crops_coords is not None:
            images = [image.crop(crops_coords) for image in images]
        if self.config.do_resize:
            height, width = self.get_default_height_width(images[0], height, width)
            images = [self.resize(image, height, width, resize_mode) for image in images]
        if self.config.do_convert_rgb:
            images = [self.convert_to_rgb(image) for image in images]
        elif self.config.do_convert_grayscale:
            images = [self.convert_to_grayscale(image) for image in images]
        return arrays.numpy_to_pt(arrays.pil_to_numpy(images))

    def _finish(self, batch: torch.Tensor) -> torch.Tensor:
        if self.config.do_normalize:
            if batch.min() < 0:
                warnings.warn(
                    "image: values below 0 found, so the input is taken to be in [-1, 1] already "
                    "and not normalized; pass images in [0, 1]",
                    DiffusekitWarning,
                    stacklevel=3,
                )
            else:
                batch = arrays.normalize(batch)
        if self.config.do_binarize:
            batch = arrays.binarize(batch)
        return batch

    # ------------------------------------------------------------------------ postprocess

    def postprocess(
        self,
        image: torch.Tensor,
        output_type: OutputType = "pil",
        do_denormalize: list[bool] | None = None,
    ) -> Any:
        """Decoder output (batch, channels, height, width) -> ``output_type``.

        ``"latent"`` returns the tensor unchanged; ``"pt"`` a tensor in [0, 1]; ``"np"`` a float32
        array (batch, height, width, channels); ``"pil"`` a list of PIL images.
        `do_denormalize` chooses per image whether to map [-1, 1] to [0, 1] (default: the
        `do_normalize` config field).
        """
        if not is_tensor(image):
            raise TypeError(
                f"postprocess: expected a torch tensor (batch, channels, height, width), "
                f"found {type(image).__name__}"
            )
        if output_type not in OUTPUT_TYPES:
            raise ValueError(
                f"output_type: expected one of {list(OUTPUT_TYPES)}, found {output_type!r}"
            )
        if output_type == "latent":
            return image
        image = self._denormalize(image, do_denormalize)
        if output_type == "pt":
            return image
        pixels = arrays.pt_to_numpy(image)
        if output_type == "np":
            return pixels
        return arrays.numpy_to_pil(pixels)

    def _denormalize(self, images: torch.Tensor, per_image: list[bool] | None) -> torch.Tensor:
        if per_image is None:
            return arrays.denormalize(images) if self.config.do_normalize else images
        if len(per_image) != images.shape[0]:
            raise ValueError(
                f"do_denormalize: expected one flag per image ({images.shape[0]}), "
                f"found {len(per_image)}"
            )
        import torch

        return torch.stack(
            [arrays.denormalize(img) if flag else img for img, flag in zip(images, per_image)]
        )

    # ---------------------------------------------------------------------- inpainting crop

    def apply_overlay(
        self,
        mask: PIL.Image.Image,
        init_image: PIL.Image.Image,
        image: PIL.Image.Image,
        crop_coords: tuple[int, int, int, int] | None = None,
    ) -> PIL.Image.Image:
        """Paste the inpainted `image` back into `init_image` where `mask` is white; with
        `crop_coords` (from `get_crop_region`), `image` covers only that box."""
        return geometry.apply_overlay(mask, init_image, image, crop_coords, self.config.resample)
