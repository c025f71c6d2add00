"""The unconditional pipelines on tiny random models: outputs, seeding, callbacks, loading."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import PIL.Image
import pytest
import torch

from diffusekit import DiffusionPipeline
from diffusekit.errors import DiffusekitWarning
from diffusekit.outputs import ImagePipelineOutput

from . import _builders as b

IMAGE = list(b.IMAGE_PIPELINES)
SIZE = 8


def _pipe(name: str):
    make, options = b.IMAGE_PIPELINES[name]
    return b.quiet(make()), options


@pytest.mark.parametrize("name", IMAGE)
def test_output_types_hold_the_same_images(name):
    pipe, options = _pipe(name)
    pt = pipe(generator=torch.Generator().manual_seed(0), output_type="pt", **options).images
    arr = pipe(generator=torch.Generator().manual_seed(0), output_type="np", **options).images
    pil = pipe(generator=torch.Generator().manual_seed(0), **options).images
    assert isinstance(pt, torch.Tensor) and pt.shape == (1, 3, SIZE, SIZE)
    assert float(pt.min()) >= 0.0 and float(pt.max()) <= 1.0 and float(pt.std()) > 0.0
    assert isinstance(arr, np.ndarray) and arr.shape == (1, SIZE, SIZE, 3)
    assert arr.dtype == np.float32
    np.testing.assert_array_equal(arr, pt.permute(0, 2, 3, 1).numpy())
    assert isinstance(pil, list) and len(pil) == 1 and isinstance(pil[0], PIL.Image.Image)
    assert pil[0].size == (SIZE, SIZE) and pil[0].mode == "RGB"
    np.testing.assert_array_equal(np.asarray(pil[0]), (arr[0] * 255).round().astype(np.uint8))


@pytest.mark.parametrize("name", IMAGE)
def test_return_dict_false_gives_a_tuple(name):
    pipe, options = _pipe(name)
    out = pipe(generator=torch.Generator().manual_seed(3), output_type="np", **options)
    plain = pipe(
        generator=torch.Generator().manual_seed(3), output_type="np", return_dict=False, **options
    )
    assert isinstance(out, ImagePipelineOutput)
    assert isinstance(plain, tuple) and len(plain) == 1
    np.testing.assert_array_equal(plain[0], out.images)


@pytest.mark.parametrize("name", [n for n in IMAGE if n != "score-sde-ve"])
def test_a_generator_list_seeds_each_image(name):
    pipe, options = _pipe(name)
    batch = pipe(batch_size=2, generator=b.generators(1, 2), output_type="np", **options).images
    alone = pipe(generator=b.generators(2), output_type="np", **options).images
    assert batch.shape == (2, SIZE, SIZE, 3)
    np.testing.assert_allclose(batch[1], alone[0], atol=1e-5)
    assert not np.allclose(batch[0], batch[1], atol=1e-3)


def test_score_sde_ve_batches_are_seeded_but_coupled():
    """The Langevin step size averages norms over the batch (as the reference does), so an
    image depends on its batch; a generator list still makes the batch reproducible."""
    pipe, options = _pipe("score-sde-ve")
    first = pipe(batch_size=2, generator=b.generators(1, 2), output_type="np", **options).images
    again = pipe(batch_size=2, generator=b.generators(1, 2), output_type="np", **options).images
    other = pipe(batch_size=2, generator=b.generators(1, 3), output_type="np", **options).images
    np.testing.assert_array_equal(first, again)
    assert first.shape == (2, SIZE, SIZE, 3)
    assert not np.allclose(first[1], other[1], atol=1e-3)


@pytest.mark.parametrize("name", IMAGE)
def test_one_generator_draws_a_whole_batch(name):
    pipe, options = _pipe(name)
    one = torch.Generator().manual_seed(5)
    images = pipe(batch_size=2, generator=one, output_type="np", **options).images
    assert images.shape == (2, SIZE, SIZE, 3)
    assert not np.allclose(images[0], images[1], atol=1e-3)


@pytest.mark.parametrize("name", IMAGE)
def test_a_generator_list_must_match_the_batch(name):
    pipe, options = _pipe(name)
    with pytest.raises(ValueError, match=r"generator: .*expected 3 \(batch_size\), found 2"):
        pipe(batch_size=3, generator=b.generators(0, 1), **options)


@pytest.mark.parametrize("name", IMAGE)
def test_unknown_output_types_are_refused(name):
    pipe, options = _pipe(name)
    with pytest.raises(ValueError, match="output_type: expected one of"):
        pipe(output_type="gif", **options)


def test_numpy_and_none_mean_np():
    pipe, options = _pipe("ddim")
    reference = pipe(generator=torch.Generator().manual_seed(0), output_type="np", **options)
    for alias in ("numpy", None):
        got = pipe(generator=torch.Generator().manual_seed(0), output_type=alias, **options)
        np.testing.assert_array_equal(got.images, reference.images)


def test_ldm_latent_output_is_the_undecoded_latents():
    pipe, options = _pipe("ldm")
    latents = pipe(generator=torch.Generator().manual_seed(0), output_type="latent", **options)
    assert latents.images.shape == (1, 3, 4, 4)
    decoded = pipe.vqvae.decode(latents.images / pipe.vqvae.config.scaling_factor).sample
    images = pipe(generator=torch.Generator().manual_seed(0), output_type="pt", **options)
    torch.testing.assert_close(images.images, (decoded / 2 + 0.5).clamp(0, 1))


@pytest.mark.parametrize("name", ["ddim", "karras-ve", "score-sde-ve", "score-sde-vp"])
def test_callbacks_see_each_step_and_replace_latents(name):
    pipe, options = _pipe(name)
    steps: list[int] = []

    def callback(pipeline, index, timestep, tensors):
        steps.append(index)
        assert set(tensors) == {"latents"}
        if index == options["num_inference_steps"] - 1 and name in ("ddim", "karras-ve"):
            return {"latents": torch.zeros_like(tensors["latents"])}
        return None

    out = pipe(output_type="np", callback_on_step_end=callback, **options).images
    assert steps == list(range(options["num_inference_steps"]))
    if name in ("ddim", "karras-ve"):
        np.testing.assert_array_equal(out, np.full_like(out, 0.5))


def test_a_callback_can_interrupt():
    pipe, options = _pipe("ddpm")
    seen: list[int] = []

    def stop(pipeline, index, timestep, tensors):
        seen.append(index)
        pipeline._interrupt = True

    pipe(callback_on_step_end=stop, **options)
    assert seen == [0]


def test_callbacks_name_only_latents():
    pipe, options = _pipe("ddpm")
    with pytest.raises(ValueError, match="callback_on_step_end_tensor_inputs"):
        pipe(
            callback_on_step_end=lambda *a: None,
            callback_on_step_end_tensor_inputs=["prompt_embeds"],
            **options,
        )


class _CountingBar:
    def __init__(self, total):
        self.total, self.n = total, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.n += n


@pytest.mark.parametrize("name", IMAGE)
def test_the_progress_bar_ends_full(name):
    pipe, options = _pipe(name)
    bars: list[_CountingBar] = []

    def progress_bar(iterable=None, total=None):
        bars.append(_CountingBar(total))
        return bars[-1]

    pipe.progress_bar = progress_bar
    pipe(**options)
    steps = options["num_inference_steps"]
    assert [(bar.total, bar.n) for bar in bars] == [(steps, steps)]


@pytest.mark.parametrize("name", IMAGE)
def test_calls_leave_the_pipeline_scheduler_alone(name):
    pipe, options = _pipe(name)
    before = {k: v.clone() if torch.is_tensor(v) else v for k, v in vars(pipe.scheduler).items()}
    pipe(**options)
    after = vars(pipe.scheduler)
    assert sorted(after) == sorted(before)
    for key, value in before.items():
        if torch.is_tensor(value):
            assert torch.equal(after[key], value), key
        elif isinstance(value, (int, float, str, type(None))):
            assert after[key] == value, key


def test_ddim_warns_about_eta_out_of_range():
    pipe, options = _pipe("ddim")
    with pytest.warns(DiffusekitWarning, match=r"eta: expected a value in \[0, 1\]"):
        pipe(eta=-0.5, **options)


def test_ddim_eta_and_clipping_reach_the_scheduler():
    pipe, options = _pipe("ddim")
    plain = pipe(generator=torch.Generator().manual_seed(0), output_type="np", **options).images
    noisy = pipe(
        generator=torch.Generator().manual_seed(0), eta=1.0, output_type="np", **options
    ).images
    assert not np.allclose(plain, noisy, atol=1e-4)


def test_extra_keywords_are_ignored_with_a_warning():
    pipe, options = _pipe("pndm")
    with pytest.warns(DiffusekitWarning, match=r"ignoring unknown arguments \['guidance'\]"):
        pipe(guidance=3.0, **options)


@pytest.mark.parametrize("name", ["ddpm", "karras-ve", "ldm", "score-sde-vp"])
def test_saved_pipelines_reload_with_the_same_output(name, tmp_path):
    pipe, options = _pipe(name)
    pipe.save_pretrained(tmp_path)
    loaded = b.quiet(DiffusionPipeline.from_pretrained(tmp_path))
    assert type(loaded) is type(pipe)
    before = pipe(generator=torch.Generator().manual_seed(0), output_type="np", **options)
    after = loaded(generator=torch.Generator().manual_seed(0), output_type="np", **options)
    np.testing.assert_allclose(after.images, before.images, atol=1e-5)


@pytest.mark.parametrize("name", ["pndm", "karras-ve", "score-sde-ve"])
def test_two_threads_can_share_one_pipeline(name):
    pipe, options = _pipe(name)

    def run(seed: int) -> np.ndarray:
        generator = torch.Generator().manual_seed(seed)
        return pipe(generator=generator, output_type="np", **options).images

    alone = [run(seed) for seed in (0, 1)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(run, (0, 1)))
    for got, expected in zip(together, alone, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)
