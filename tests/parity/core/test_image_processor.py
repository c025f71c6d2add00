"""VaeImageProcessor and the image helpers against the reference's, on the same inputs.

Three configurations (Stable Diffusion's image processor, the x4 upscaler's bicubic one, the
inpainting mask processor), every input kind, the three resize modes in both orientations,
postprocess output types, crop regions, overlays, grids and GIFs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusers import image_processor as reference_module  # noqa: E402
from diffusers.utils import export_to_gif as reference_export_to_gif  # noqa: E402
from diffusers.utils import load_image as reference_load_image  # noqa: E402
from diffusers.utils import make_image_grid as reference_make_image_grid  # noqa: E402

from diffusekit import image as ours_module  # noqa: E402
from diffusekit.errors import DiffusekitWarning  # noqa: E402

pytestmark = pytest.mark.parity

CONFIGS: dict[str, dict[str, Any]] = {
    "sd": {"vae_scale_factor": 8},
    "upscaler": {"vae_scale_factor": 4, "resample": "bicubic"},
    "mask": {
        "vae_scale_factor": 8,
        "do_normalize": False,
        "do_binarize": True,
        "do_convert_grayscale": True,
    },
    "rgb-reducing-gap": {"do_convert_rgb": True, "reducing_gap": 2},
}


def pair(config: str) -> tuple[Any, Any]:
    kwargs = CONFIGS[config]
    return ours_module.VaeImageProcessor(**kwargs), reference_module.VaeImageProcessor(**kwargs)


def pixels(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def pil(height: int, width: int, seed: int = 0, mode: str = "RGB") -> PIL.Image.Image:
    return PIL.Image.fromarray(pixels(height, width, seed=seed)).convert(mode)


def unit(height: int, width: int, seed: int = 0) -> np.ndarray:
    return pixels(height, width, seed=seed).astype(np.float32) / 255.0


def chw(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(unit(height, width, seed)).permute(2, 0, 1).contiguous()


def assert_same(ours: Any, reference: Any) -> None:
    if isinstance(reference, torch.Tensor):
        assert isinstance(ours, torch.Tensor)
        assert ours.dtype == reference.dtype
        torch.testing.assert_close(ours, reference, rtol=0, atol=0)
    elif isinstance(reference, np.ndarray):
        assert isinstance(ours, np.ndarray)
        np.testing.assert_array_equal(ours, reference)
    elif isinstance(reference, list):
        assert len(ours) == len(reference)
        for mine, theirs in zip(ours, reference):
            assert_same(mine, theirs)
    else:
        assert isinstance(ours, PIL.Image.Image) and ours.mode == reference.mode
        assert ours.size == reference.size
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(reference))


INPUTS: dict[str, Any] = {
    "pil landscape": lambda: pil(37, 53),
    "pil portrait": lambda: pil(61, 29, seed=1),
    "pil rgba": lambda: pil(24, 24, seed=2, mode="RGBA"),
    "pil grey": lambda: pil(40, 24, seed=3, mode="L"),
    "pil list": lambda: [pil(33, 41, seed=s) for s in range(2)],
    "array hwc": lambda: unit(37, 53),
    "array nhwc": lambda: np.stack([unit(20, 28, seed=s) for s in range(2)]),
    "array list": lambda: [unit(20, 28, seed=s) for s in range(3)],
    "tensor chw": lambda: chw(37, 53),
    "tensor nchw": lambda: torch.stack([chw(20, 28, seed=s) for s in range(2)]),
    "tensor list": lambda: [chw(20, 28, seed=s) for s in range(2)],
    "latents": lambda: torch.rand(2, 4, 9, 11, generator=torch.Generator().manual_seed(0)),
}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("size", [(None, None), (48, 64), (64, 40)])
def test_preprocess_default_mode(config: str, kind: str, size: tuple[int | None, int | None]):
    ours, reference = pair(config)
    height, width = size
    try:
        expected = reference.preprocess(INPUTS[kind](), height=height, width=width)
    except (ValueError, RuntimeError):
        # e.g. the mask processor reading an RGB (h, w, 3) array as three grey images 3 wide
        with pytest.raises((ValueError, RuntimeError)):
            ours.preprocess(INPUTS[kind](), height=height, width=width)
        return
    assert_same(ours.preprocess(INPUTS[kind](), height=height, width=width), expected)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("mode", ["fill", "crop"])
@pytest.mark.parametrize(
    ("source", "target"),
    [((37, 53), (48, 48)), ((61, 29), (40, 64)), ((30, 90), (64, 32)), ((32, 48), (64, 96))],
)
def test_preprocess_fill_and_crop(config: str, mode: str, source, target):
    ours, reference = pair(config)
    image = pil(*source, seed=4)
    assert_same(
        ours.preprocess(image, height=target[0], width=target[1], resize_mode=mode),
        reference.preprocess(image, height=target[0], width=target[1], resize_mode=mode),
    )


@pytest.mark.parametrize("mode", ["default", "fill", "crop"])
def test_preprocess_with_crops_coords(mode: str):
    ours, reference = pair("sd")
    image = pil(64, 80, seed=5)
    coords = (5, 9, 61, 41)
    assert_same(
        ours.preprocess(image, height=32, width=48, resize_mode=mode, crops_coords=coords),
        reference.preprocess(image, height=32, width=48, resize_mode=mode, crops_coords=coords),
    )


def test_grey_arrays_and_tensors_in_the_mask_processor():
    ours, reference = pair("mask")
    for make in (
        lambda: unit(16, 24)[..., :1],
        lambda: unit(16, 24)[..., 0][None].repeat(3, axis=0),
        lambda: torch.from_numpy(unit(16, 24)[..., 0])[None],
        lambda: [torch.from_numpy(unit(16, 24, seed=s)[..., 0]) for s in range(2)],
    ):
        assert_same(ours.preprocess(make()), reference.preprocess(make()))


def test_tensor_in_minus_one_to_one():
    ours, reference = pair("sd")
    tensor = chw(16, 16) * 2 - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        expected = reference.preprocess(tensor)
    with pytest.warns(DiffusekitWarning):
        assert_same(ours.preprocess(tensor), expected)


@pytest.mark.parametrize("output_type", ["pil", "np", "pt", "latent"])
@pytest.mark.parametrize("config", ["sd", "mask"])
@pytest.mark.parametrize("flags", [None, [True, False, True]])
def test_postprocess(output_type: str, config: str, flags):
    ours, reference = pair(config)
    channels = 1 if config == "mask" else 3
    generator = torch.Generator().manual_seed(0)
    if config == "sd" and flags is None:
        decoded = torch.randn(3, channels, 16, 24, generator=generator)
    else:
        # images left as they are must already lie in [0, 1]; see the test below
        decoded = torch.rand(3, channels, 16, 24, generator=generator)
    assert_same(
        ours.postprocess(decoded, output_type=output_type, do_denormalize=flags),
        reference.postprocess(decoded, output_type=output_type, do_denormalize=flags),
    )


def test_out_of_range_pixels_saturate_where_the_reference_wraps_around():
    """A deliberate difference: the reference casts e.g. -0.2 to uint8 255 - 50; we give 0."""
    ours, reference = pair("mask")
    decoded = torch.linspace(-0.5, 1.5, 64).reshape(1, 1, 8, 8)
    assert_same(ours.postprocess(decoded), reference.postprocess(decoded.clamp(0, 1)))


def test_static_conversions():
    batch = np.random.default_rng(2).random((2, 8, 12, 3)).astype(np.float32)
    ours, reference = ours_module.VaeImageProcessor, reference_module.VaeImageProcessor
    assert_same(ours.numpy_to_pil(batch), reference.numpy_to_pil(batch))
    assert_same(ours.numpy_to_pil(batch[..., :1]), reference.numpy_to_pil(batch[..., :1]))
    images = reference.numpy_to_pil(batch)
    assert_same(ours.pil_to_numpy(images), reference.pil_to_numpy(images))
    assert_same(ours.numpy_to_pt(batch), reference.numpy_to_pt(batch))
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2)
    assert_same(ours.pt_to_numpy(tensor), reference.pt_to_numpy(tensor))
    assert_same(ours.normalize(tensor), reference.normalize(tensor))
    assert_same(ours.denormalize(tensor * 3 - 1), reference.denormalize(tensor * 3 - 1))
    assert_same(pair("sd")[0].binarize(tensor.clone()), pair("sd")[1].binarize(tensor.clone()))
    grey = images[0].convert("L")
    for factor in (1, 4, 7):
        assert_same(ours.blur(grey, factor), reference.blur(grey, factor))


def random_mask(seed: int, size: tuple[int, int] = (96, 64)) -> PIL.Image.Image:
    rng = np.random.default_rng(seed)
    mask = np.zeros(size[::-1], np.uint8)
    x1, y1 = rng.integers(0, size[0] - 2), rng.integers(0, size[1] - 2)
    x2, y2 = rng.integers(x1 + 1, size[0] + 1), rng.integers(y1 + 1, size[1] + 1)
    mask[y1:y2, x1:x2] = 255
    return PIL.Image.fromarray(mask)


@pytest.mark.parametrize("seed", range(40))
def test_get_crop_region(seed: int):
    mask = random_mask(seed)
    ours, reference = ours_module.VaeImageProcessor, reference_module.VaeImageProcessor
    for width, height in [(64, 64), (96, 32), (32, 96), (512, 768)]:
        for pad in (0, 3, 32):
            assert ours.get_crop_region(mask, width, height, pad=pad) == tuple(
                int(v) for v in reference.get_crop_region(mask, width, height, pad=pad)
            ), (width, height, pad)


@pytest.mark.parametrize("with_crop", [False, True])
def test_apply_overlay(with_crop: bool):
    ours, reference = pair("sd")
    mask = ours.blur(random_mask(3).convert("L"), 3)
    init_image = pil(64, 96, seed=6)
    generated = pil(48, 48, seed=7) if with_crop else pil(64, 96, seed=8)
    coords = ours.get_crop_region(mask, 48, 48, pad=4) if with_crop else None
    assert_same(
        ours.apply_overlay(mask, init_image, generated, coords),
        reference.apply_overlay(mask, init_image, generated, coords),
    )


def test_make_image_grid():
    images = [pil(10, 14, seed=s) for s in range(6)]
    assert_same(ours_module.make_image_grid(images, 2, 3), reference_make_image_grid(images, 2, 3))
    assert_same(
        ours_module.make_image_grid(images, 3, 2, resize=9),
        reference_make_image_grid(images, 3, 2, resize=9),
    )


def test_export_to_gif_writes_the_same_file(tmp_path):
    frames = [pil(16, 20, seed=s) for s in range(4)]
    ours = ours_module.export_to_gif(frames, str(tmp_path / "ours.gif"), fps=8)
    theirs = reference_export_to_gif(frames, str(tmp_path / "theirs.gif"), fps=8)
    assert Path(ours).read_bytes() == Path(theirs).read_bytes()


def test_load_image_from_a_file(tmp_path):
    image = pil(20, 30, seed=9, mode="RGBA")
    exif = PIL.Image.Exif()
    exif[0x0112] = 8
    image.convert("RGB").save(tmp_path / "photo.jpg", exif=exif)
    image.save(tmp_path / "alpha.png")
    for name in ("photo.jpg", "alpha.png"):
        path = str(tmp_path / name)
        assert_same(ours_module.load_image(path), reference_load_image(path))
