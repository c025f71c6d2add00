"""diffusekit.image: VaeImageProcessor round trips, masks, crops, grids, GIF/WAV export, loading."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from diffusekit import (
    AudioPipelineOutput,
    ImagePipelineOutput,
    VaeImageProcessor,
    export_to_gif,
    export_to_wav,
    load_image,
    make_image_grid,
)
from diffusekit.errors import ConfigError, DiffusekitWarning


def random_pixels(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (16, 16)) -> PIL.Image.Image:
    return PIL.Image.new("RGB", size, colour)


def mask_processor() -> VaeImageProcessor:
    return VaeImageProcessor(do_normalize=False, do_binarize=True, do_convert_grayscale=True)


# ------------------------------------------------------------------------------- config


def test_config_defaults_match_the_reference_fields():
    config = VaeImageProcessor().config
    assert {k: config[k] for k in VaeImageProcessor.config_class.model_fields} == {
        "do_resize": True,
        "vae_scale_factor": 8,
        "vae_latent_channels": 4,
        "resample": "lanczos",
        "reducing_gap": None,
        "do_normalize": True,
        "do_binarize": False,
        "do_convert_rgb": False,
        "do_convert_grayscale": False,
    }


def test_config_rejects_two_colour_conversions_and_unknown_filters():
    with pytest.raises(ConfigError, match="do_convert_rgb and do_convert_grayscale"):
        VaeImageProcessor(do_convert_rgb=True, do_convert_grayscale=True)
    with pytest.raises(ConfigError, match="resample"):
        VaeImageProcessor(resample="sinc")


def test_config_saves_and_loads_back(tmp_path):
    processor = VaeImageProcessor(vae_scale_factor=4, resample="bicubic")
    processor.save_config(tmp_path)
    loaded = VaeImageProcessor.from_config(VaeImageProcessor.load_config(tmp_path))
    assert loaded.config.vae_scale_factor == 4
    assert loaded.config.resample == "bicubic"


# --------------------------------------------------------------------------- preprocess


def test_pil_input_becomes_a_normalized_nchw_tensor():
    pixels = random_pixels(16, 24)
    out = VaeImageProcessor().preprocess(PIL.Image.fromarray(pixels))
    expected = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)[None] * 2 - 1
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)


def test_sizes_round_down_to_multiples_of_the_scale_factor():
    image = PIL.Image.fromarray(random_pixels(37, 53))
    assert VaeImageProcessor().preprocess(image).shape == (1, 3, 32, 48)
    assert VaeImageProcessor(vae_scale_factor=16).preprocess(image).shape == (1, 3, 32, 48)
    assert VaeImageProcessor().preprocess(image, height=30, width=70).shape == (1, 3, 24, 64)
    assert VaeImageProcessor(do_resize=False).preprocess(image).shape == (1, 3, 37, 53)


def test_every_input_kind_gives_the_same_batch():
    pixels = random_pixels(16, 24)
    unit = pixels.astype(np.float32) / 255.0
    chw = torch.from_numpy(unit).permute(2, 0, 1)
    processor = VaeImageProcessor()
    reference = processor.preprocess(PIL.Image.fromarray(pixels))
    inputs = {
        "hwc array": unit,
        "nhwc array": unit[None],
        "list of arrays": [unit],
        "chw tensor": chw,
        "nchw tensor": chw[None],
        "list of tensors": [chw],
    }
    for name, image in inputs.items():
        torch.testing.assert_close(processor.preprocess(image), reference, msg=name)


def test_lists_become_batches():
    images = [PIL.Image.fromarray(random_pixels(16, 16, seed=s)) for s in range(3)]
    batch = VaeImageProcessor().preprocess(images)
    assert batch.shape == (3, 3, 16, 16)
    torch.testing.assert_close(batch[2:], VaeImageProcessor().preprocess(images[2]))
    arrays = [np.zeros((2, 8, 8, 3), np.float32), np.ones((1, 8, 8, 3), np.float32)]
    stacked = VaeImageProcessor().preprocess(arrays)
    assert stacked.shape == (3, 3, 8, 8)
    assert stacked[2].min() == 1.0 and stacked[0].max() == -1.0


def test_arrays_and_tensors_resize_by_nearest_neighbour():
    tensor = torch.arange(4.0).reshape(1, 1, 2, 2).expand(1, 3, 2, 2) / 4
    out = VaeImageProcessor(vae_scale_factor=1).preprocess(tensor, height=4, width=4)
    assert out.shape == (1, 3, 4, 4)
    assert out[0, 0, :2, :2].unique().tolist() == [-1.0]
    assert out[0, 0, 2:, 2:].unique().tolist() == [0.5]


def test_tensor_already_in_minus_one_to_one_is_not_normalized_twice():
    tensor = torch.linspace(-1, 1, 3 * 8 * 8).reshape(1, 3, 8, 8)
    with pytest.warns(DiffusekitWarning, match=r"\[-1, 1\]"):
        out = VaeImageProcessor().preprocess(tensor)
    torch.testing.assert_close(out, tensor)


def test_latents_pass_through_untouched():
    latents = torch.rand(2, 4, 5, 7)
    torch.testing.assert_close(VaeImageProcessor().preprocess(latents), latents)
    as_pixels = VaeImageProcessor(vae_latent_channels=16, vae_scale_factor=1).preprocess(latents)
    torch.testing.assert_close(as_pixels, latents * 2 - 1)


def test_invalid_inputs_name_what_was_found():
    with pytest.raises(ValueError, match="found str"):
        VaeImageProcessor().preprocess("image.png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one kind"):
        VaeImageProcessor().preprocess([solid((0, 0, 0)), np.zeros((16, 16, 3))])
    with pytest.raises(ValueError, match="resize_mode"):
        VaeImageProcessor().preprocess(solid((0, 0, 0)), resize_mode="stretch")
    with pytest.raises(ValueError, match="non-empty"):
        VaeImageProcessor().preprocess([])


def test_crops_coords_cut_before_resizing():
    pixels = random_pixels(32, 32)
    out = VaeImageProcessor().preprocess(PIL.Image.fromarray(pixels), crops_coords=(8, 0, 24, 16))
    expected = VaeImageProcessor().preprocess(PIL.Image.fromarray(pixels[0:16, 8:24]))
    torch.testing.assert_close(out, expected)


# -------------------------------------------------------------------------- postprocess


def test_pil_round_trip_is_exact():
    pixels = random_pixels(16, 24)
    processor = VaeImageProcessor()
    back = processor.postprocess(processor.preprocess(PIL.Image.fromarray(pixels)))
    assert isinstance(back, list) and len(back) == 1
    np.testing.assert_array_equal(np.asarray(back[0]), pixels)


def test_output_types():
    processor = VaeImageProcessor()
    decoded = torch.linspace(-1.5, 1.5, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    assert processor.postprocess(decoded, output_type="latent") is decoded
    pt = processor.postprocess(decoded, output_type="pt")
    torch.testing.assert_close(pt, ((decoded + 1) / 2).clamp(0, 1))
    np_images = processor.postprocess(decoded, output_type="np")
    assert np_images.shape == (2, 8, 8, 3) and np_images.dtype == np.float32
    np.testing.assert_allclose(np_images, pt.permute(0, 2, 3, 1).numpy())
    pil_images = processor.postprocess(decoded, output_type="pil")
    assert [image.size for image in pil_images] == [(8, 8), (8, 8)]
    np.testing.assert_array_equal(np.asarray(pil_images[1]), np.round(np_images[1] * 255))


def test_grey_output_is_mode_l():
    images = mask_processor().postprocess(torch.ones(1, 1, 8, 8) * 0.5)
    assert images[0].mode == "L"
    assert np.asarray(images[0]).tolist() == [[128] * 8] * 8


def test_do_denormalize_per_image():
    decoded = torch.full((2, 3, 4, 4), -0.5)
    out = VaeImageProcessor().postprocess(decoded, output_type="pt", do_denormalize=[True, False])
    assert out[0].unique().tolist() == [0.25]
    assert out[1].unique().tolist() == [-0.5]
    with pytest.raises(ValueError, match="one flag per image"):
        VaeImageProcessor().postprocess(decoded, do_denormalize=[True])


def test_postprocess_rejects_bad_arguments():
    with pytest.raises(TypeError, match="ndarray"):
        VaeImageProcessor().postprocess(np.zeros((1, 3, 8, 8)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="output_type"):
        VaeImageProcessor().postprocess(torch.zeros(1, 3, 8, 8), output_type="numpy")  # type: ignore[arg-type]


def test_array_conversions_invert_each_other():
    batch = np.random.default_rng(1).random((2, 8, 8, 3)).astype(np.float32)
    tensor = VaeImageProcessor.numpy_to_pt(batch)
    assert tensor.shape == (2, 3, 8, 8)
    np.testing.assert_array_equal(VaeImageProcessor.pt_to_numpy(tensor), batch)
    assert VaeImageProcessor.numpy_to_pt(np.zeros((2, 8, 8), np.float32)).shape == (2, 1, 8, 8)
    pil = VaeImageProcessor.numpy_to_pil(batch)
    np.testing.assert_allclose(VaeImageProcessor.pil_to_numpy(pil), batch, atol=0.5 / 255 + 1e-6)
    round_trip = VaeImageProcessor.denormalize(VaeImageProcessor.normalize(batch))
    np.testing.assert_allclose(round_trip, batch, atol=1e-6)


def test_numpy_to_pil_saturates_out_of_range_values():
    image = VaeImageProcessor.numpy_to_pil(np.array([[[-0.5, 0.5, 1.5]]], np.float32))[0]
    assert np.asarray(image).tolist() == [[[0, 128, 255]]]


# -------------------------------------------------------------------------------- masks


def test_mask_processor_binarizes_grey_masks():
    pixels = np.array([[0, 127, 128, 255]] * 8, dtype=np.uint8).repeat(2, axis=1)
    mask = PIL.Image.fromarray(np.stack([pixels] * 3, axis=-1))
    out = mask_processor().preprocess(mask)
    assert out.shape == (1, 1, 8, 8)
    assert out[0, 0, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_mask_processor_reads_3d_arrays_and_tensors_as_grey():
    mask = np.zeros((8, 8, 1), np.float32)
    mask[:, 4:] = 0.9
    out = mask_processor().preprocess(mask)
    assert out.shape == (1, 1, 8, 8)
    assert out[0, 0, 0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    tensor_out = mask_processor().preprocess(torch.from_numpy(mask[None, :, :, 0]))
    torch.testing.assert_close(tensor_out, out)


def test_binarize_leaves_the_input_alone():
    values = torch.tensor([0.2, 0.5, 0.7])
    assert VaeImageProcessor().binarize(values).tolist() == [0.0, 1.0, 1.0]
    assert values.tolist() == pytest.approx([0.2, 0.5, 0.7])


def test_blur_softens_edges_only():
    half = np.zeros((32, 32), np.uint8)
    half[:, 16:] = 255
    blurred = np.asarray(VaeImageProcessor.blur(PIL.Image.fromarray(half), blur_factor=2))
    assert blurred[0, 0] == 0 and blurred[0, 31] == 255
    assert 0 < blurred[0, 15] < 255 and 0 < blurred[0, 16] < 255
    flat = np.asarray(VaeImageProcessor.blur(PIL.Image.new("L", (16, 16), 77)))
    assert flat.min() == flat.max() == 77


def box_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> PIL.Image.Image:
    mask = PIL.Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def test_crop_region_grows_to_the_processing_aspect_ratio():
    mask = box_mask((64, 64), (10, 20, 20, 40))
    assert VaeImageProcessor.get_crop_region(mask, 64, 64) == (5, 20, 25, 40)
    assert VaeImageProcessor.get_crop_region(mask, 64, 64, pad=2) == (3, 18, 27, 42)
    assert VaeImageProcessor.get_crop_region(mask, 32, 64) == (10, 20, 20, 40)
    wide = box_mask((64, 64), (10, 30, 40, 34))
    assert VaeImageProcessor.get_crop_region(wide, 64, 64) == (10, 17, 40, 47)


def test_crop_region_slides_back_inside_the_image():
    assert VaeImageProcessor.get_crop_region(box_mask((64, 64), (0, 0, 5, 20)), 8, 8) == (
        0,
        0,
        20,
        20,
    )
    assert VaeImageProcessor.get_crop_region(box_mask((64, 64), (60, 40, 64, 64)), 8, 8) == (
        40,
        40,
        64,
        64,
    )
    with pytest.raises(ValueError, match="no non-zero pixel"):
        VaeImageProcessor.get_crop_region(PIL.Image.new("L", (8, 8)), 8, 8)


def test_apply_overlay_keeps_original_pixels_outside_the_mask():
    original = solid((200, 0, 0), (32, 16))
    generated = solid((0, 0, 200), (32, 16))
    mask = box_mask((32, 16), (0, 0, 16, 16))
    out = np.asarray(VaeImageProcessor().apply_overlay(mask, original, generated))
    assert (out[:, :16] == (0, 0, 200)).all()
    assert (out[:, 16:] == (200, 0, 0)).all()


def test_apply_overlay_places_a_cropped_result_in_its_box():
    original = solid((200, 0, 0), (32, 32))
    mask = box_mask((32, 32), (8, 8, 24, 24))
    generated = solid((0, 200, 0), (64, 64))
    out = np.asarray(VaeImageProcessor().apply_overlay(mask, original, generated, (8, 8, 24, 24)))
    assert (out[8:24, 8:24] == (0, 200, 0)).all()
    assert (out[:8] == (200, 0, 0)).all() and (out[24:] == (200, 0, 0)).all()


# ------------------------------------------------------------------------- resize modes


def test_crop_mode_keeps_the_centre():
    bands = np.zeros((32, 96, 3), np.uint8)
    bands[:, :32, 0], bands[:, 32:64, 1], bands[:, 64:, 2] = 255, 255, 255
    image = PIL.Image.fromarray(bands)
    out = VaeImageProcessor(resample="nearest").resize(image, 32, 32, resize_mode="crop")
    assert out.size == (32, 32)
    assert (np.asarray(out) == (0, 255, 0)).all()


def test_fill_mode_fills_the_bands_from_the_image():
    image = solid((10, 120, 240), (16, 64))
    out = VaeImageProcessor().resize(image, 32, 64, resize_mode="fill")
    assert out.size == (64, 32)
    assert (np.abs(np.asarray(out).astype(int) - (10, 120, 240)) <= 1).all()
    wide = VaeImageProcessor().resize(solid((10, 120, 240), (64, 16)), 64, 32, resize_mode="fill")
    assert (np.abs(np.asarray(wide).astype(int) - (10, 120, 240)) <= 1).all()


def test_non_default_modes_need_pil_images():
    with pytest.raises(ValueError, match="needs PIL images"):
        VaeImageProcessor().resize(torch.zeros(1, 3, 8, 8), 16, 16, resize_mode="crop")


# ---------------------------------------------------------------------- grid, gif, wav


def test_make_image_grid_places_images_row_by_row():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (9, 9, 9)]
    grid = make_image_grid([solid(c, (8, 4)) for c in colours], rows=2, cols=3)
    assert grid.size == (24, 8)
    assert grid.getpixel((0, 0)) == colours[0]
    assert grid.getpixel((16, 0)) == colours[2]
    assert grid.getpixel((8, 4)) == colours[4]
    resized = make_image_grid([solid(c) for c in colours], rows=3, cols=2, resize=5)
    assert resized.size == (10, 15)
    with pytest.raises(ValueError, match="needs 6 images, found 5"):
        make_image_grid([solid(c) for c in colours[:5]], rows=2, cols=3)


def test_export_to_gif_writes_all_frames(tmp_path):
    frames = [solid(c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    path = export_to_gif(frames, tmp_path / "anim.gif", fps=5)
    with PIL.Image.open(path) as gif:
        assert gif.n_frames == 3
        assert gif.info["duration"] == 200
        assert gif.info["loop"] == 0
        gif.seek(2)
        assert gif.convert("RGB").getpixel((0, 0)) == (0, 0, 255)
    assert Path(export_to_gif(frames)).suffix == ".gif"


def read_wav(path: str) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(path, "rb") as reader:
        params = reader.getparams()
        data = np.frombuffer(reader.readframes(params.nframes), dtype="<i2")
    return params, data


def test_export_to_wav_mono_and_stereo(tmp_path):
    mono = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], np.float32)
    params, data = read_wav(export_to_wav(mono, tmp_path / "mono.wav", sample_rate=16000))
    assert (params.nchannels, params.sampwidth, params.framerate, params.nframes) == (
        1,
        2,
        16000,
        6,
    )
    assert data.tolist() == [0, 16384, -16384, 32767, -32767, 32767]

    stereo = torch.tensor([[0.0, 0.25, 0.5], [-0.25, -0.5, -1.0]])
    params, data = read_wav(export_to_wav(stereo, tmp_path / "stereo.wav", sample_rate=22050))
    assert (params.nchannels, params.framerate, params.nframes) == (2, 22050, 3)
    assert data.reshape(3, 2).T.tolist() == [[0, 8192, 16384], [-8192, -16384, -32767]]


def test_export_to_wav_rejects_batches(tmp_path):
    with pytest.raises(ValueError, match=r"audios\[0\]"):
        export_to_wav(np.zeros((1, 2, 8)), tmp_path / "x.wav", sample_rate=8000)


# ------------------------------------------------------------------------------ loading


def test_load_image_from_a_file_applies_exif_orientation(tmp_path):
    image = solid((0, 128, 255), (20, 10))
    exif = PIL.Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: width and height swap when made upright
    image.save(tmp_path / "photo.jpg", exif=exif)
    loaded = load_image(str(tmp_path / "photo.jpg"))
    assert loaded.mode == "RGB"
    assert loaded.size == (10, 20)


def test_load_image_converts_to_rgb_or_with_the_given_method(tmp_path):
    PIL.Image.new("RGBA", (4, 4), (1, 2, 3, 4)).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png").mode == "RGB"
    assert load_image(tmp_path / "a.png", convert_method=lambda im: im.convert("L")).mode == "L"
    pil = PIL.Image.new("L", (4, 4))
    assert load_image(pil).mode == "RGB"
    with pytest.raises(ValueError, match="no-such-file"):
        load_image(str(tmp_path / "no-such-file.png"))
    with pytest.raises(TypeError, match="int"):
        load_image(3)  # type: ignore[arg-type]


@pytest.fixture
def image_server(tmp_path, monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_load_image_over_http(image_server, tmp_path):
    pixels = random_pixels(6, 9)
    PIL.Image.fromarray(pixels).save(tmp_path / "served.png")
    (tmp_path / "notes.txt").write_text("not an image")
    loaded = load_image(f"{image_server}/served.png")
    np.testing.assert_array_equal(np.asarray(loaded), pixels)
    with pytest.raises(ValueError, match="did not return an image"):
        load_image(f"{image_server}/notes.txt")
    with pytest.raises(OSError, match="404"):
        load_image(f"{image_server}/missing.png")


# ------------------------------------------------------------------------------ outputs


def test_pipeline_outputs_read_as_tuples():
    images = [solid((1, 2, 3))]
    out = ImagePipelineOutput(images=images)
    assert out.images is images and out[0] is images and out["images"] is images
    (unpacked,) = out
    assert unpacked is images
    audio = np.zeros((1, 2, 8))
    assert AudioPipelineOutput(audios=audio).to_tuple() == (audio,)


def test_image_helpers_import_without_torch():
    code = (
        "import sys\nfrom diffusekit import VaeImageProcessor, make_image_grid, load_image\n"
        "from diffusekit import ImagePipelineOutput\nprint('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"
