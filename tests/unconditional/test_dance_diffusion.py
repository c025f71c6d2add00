"""DanceDiffusionPipeline on a tiny random 1-d UNet: lengths, outputs, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusekit_models.unet_1d import UNet1DModel
from diffusekit_schedulers import IPNDMScheduler
from diffusekit_unconditional import DanceDiffusionPipeline

from diffusekit.outputs import AudioPipelineOutput

from . import _builders as b

STEPS = {"num_inference_steps": 4}


@pytest.fixture(scope="module")
def pipe():
    return b.quiet(b.dance())


def test_default_length_is_the_unets_sample_size(pipe):
    out = pipe(generator=torch.Generator().manual_seed(0), **STEPS)
    assert isinstance(out, AudioPipelineOutput)
    audio = out.audios
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32
    assert audio.shape == (1, 2, 64)
    assert float(np.abs(audio).max()) <= 1.0 and float(audio.std()) > 0.0


def test_lengths_round_up_for_the_unet_and_are_cut_back(pipe):
    """100 samples are not a multiple of 2**3: 104 are generated and 100 kept."""
    seconds = 100 / 16_000
    cut = pipe(generator=torch.Generator().manual_seed(0), audio_length_in_s=seconds, **STEPS)
    full = pipe(generator=torch.Generator().manual_seed(0), audio_length_in_s=104 / 16_000, **STEPS)
    assert cut.audios.shape == (1, 2, 100)
    np.testing.assert_array_equal(cut.audios, full.audios[:, :, :100])


def test_too_short_audio_is_refused(pipe):
    with pytest.raises(ValueError, match=r"audio_length_in_s: expected at least 0.0015 s"):
        pipe(audio_length_in_s=16 / 16_000, **STEPS)


def test_a_unet_without_sample_rate_is_refused():
    unet = UNet1DModel(**{**b.DANCE, "sample_rate": None})
    pipe = b.quiet(DanceDiffusionPipeline(unet=unet, scheduler=IPNDMScheduler()))
    with pytest.raises(ValueError, match=r"unet\.config\.sample_rate"):
        pipe(**STEPS)


def test_pt_output_and_tuple(pipe):
    arr = pipe(generator=torch.Generator().manual_seed(2), **STEPS).audios
    (tensor,) = pipe(
        generator=torch.Generator().manual_seed(2), output_type="pt", return_dict=False, **STEPS
    )
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    np.testing.assert_array_equal(tensor.numpy(), arr)
    with pytest.raises(ValueError, match="output_type: expected one of"):
        pipe(output_type="pil", **STEPS)


def test_a_generator_list_seeds_each_clip(pipe):
    batch = pipe(batch_size=2, generator=b.generators(4, 5), **STEPS).audios
    alone = pipe(generator=b.generators(5), **STEPS).audios
    assert batch.shape == (2, 2, 64)
    np.testing.assert_allclose(batch[1], alone[0], atol=1e-5)
    assert not np.allclose(batch[0], batch[1], atol=1e-3)
    with pytest.raises(ValueError, match="generator: "):
        pipe(batch_size=3, generator=b.generators(4, 5), **STEPS)
