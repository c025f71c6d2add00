"""`diffusekit generate` / `inspect` on real unconditional pipelines, and the embedded model.

The CLI must give exactly what the library gives for the same seeds; the embedded default
checkpoint must draw recognisable digits (scored by a classifier trained here on the same
data set).
"""

from __future__ import annotations

import json
import time
import warnings
import wave

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from diffusekit import registry
from diffusekit.cli import main
from diffusekit.cli._schedulers import ALIASES

from . import _builders

SEED = 11


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def generate(*args):
    return invoke("generate", *args, "--no-progress")


def pixels(path) -> np.ndarray:
    return np.asarray(PIL.Image.open(path))


def direct(pipe, seeds, **kwargs) -> list[np.ndarray]:
    """What the library gives for those seeds (one generator per image)."""
    _builders.quiet(pipe)
    gens = _builders.generators(*seeds)
    images = pipe(batch_size=len(seeds), generator=gens if len(gens) > 1 else gens[0], **kwargs)
    return [np.asarray(image) for image in images.images]


@pytest.fixture(scope="module")
def ddpm_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddpm")
    _builders.ddpm().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def ddim_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddim")
    _builders.ddim().save_pretrained(folder)
    return folder


@pytest.mark.parametrize("name", ["ddpm", "ddim"])
def test_generate_equals_the_library_call(name, ddpm_ckpt, ddim_ckpt, tmp_path):
    ckpt = {"ddpm": ddpm_ckpt, "ddim": ddim_ckpt}[name]
    out = tmp_path / "x.png"
    result = generate(ckpt, "--steps", 3, "--seed", SEED, "--num-images", 2, "-o", out)
    assert result.exit_code == 0, result.output
    expected = direct(getattr(_builders, name)(), [SEED, SEED + 1], num_inference_steps=3)
    assert np.array_equal(pixels(tmp_path / "x-0.png"), expected[0])
    assert np.array_equal(pixels(tmp_path / "x-1.png"), expected[1])
    assert (tmp_path / "x-grid.png").is_file()


def test_scheduler_alias_swaps_to_the_real_class(ddim_ckpt, tmp_path):
    from diffusekit_schedulers import DPMSolverMultistepScheduler

    out = tmp_path / "dpm.png"
    options = ("--scheduler", "dpm++2m-karras", "--steps", 4, "--seed", 3, "-o", out)
    result = generate(ddim_ckpt, *options)
    assert result.exit_code == 0, result.output
    pipe = _builders.ddim()
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(
        pipe.scheduler.config, algorithm_type="dpmsolver++", use_karras_sigmas=True
    )
    assert np.array_equal(pixels(out), direct(pipe, [3], num_inference_steps=4)[0])


def test_every_alias_names_an_installed_scheduler_and_swaps_into_ddim():
    from diffusekit.cli._schedulers import swap

    compatible = set(_builders.ddim().scheduler.compatibles)
    swapped = []
    for name, alias in ALIASES.items():
        cls = registry.resolve("diffusers", alias.class_name)
        if cls in compatible:
            scheduler = swap(_builders.ddim(), name)
            assert type(scheduler) is cls
            for key, value in alias.overrides.items():
                assert scheduler.config[key] == value
            swapped.append(name)
    assert {"euler", "euler-a", "dpm++2m", "dpm++2m-sde", "unipc", "deis", "ddpm"} <= set(swapped)


def test_prompt_to_an_unconditional_pipeline_is_a_usage_error(ddpm_ckpt):
    result = generate(ddpm_ckpt, "--prompt", "a cat")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("error: DDPMPipeline does not take --prompt (its __call__ takes: ")
    assert "batch_size" in line and "\n" not in line


def test_dance_diffusion_writes_wav(tmp_path):
    folder = tmp_path / "dance"
    _builders.dance().save_pretrained(folder)
    result = generate(folder, "--steps", 2, "--seed", 5, "-o", tmp_path / "clip.png")
    assert result.exit_code == 0, result.output
    pipe = _builders.quiet(_builders.dance())
    audio = pipe(num_inference_steps=2, generator=torch.Generator().manual_seed(5)).audios[0]
    with wave.open(str(tmp_path / "clip.wav")) as reader:
        assert reader.getframerate() == 16_000 and reader.getnchannels() == 2
        frames = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    expected = np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16).T.reshape(-1)
    assert np.array_equal(frames, expected)


def test_inspect_names_the_real_plugins_and_loads(ddim_ckpt):
    result = invoke("inspect", ddim_ckpt, "--check", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pipeline_provider"]["distribution"] == "diffusekit-unconditional"
    providers = {c["name"]: c["provider"]["distribution"] for c in report["components"]}
    assert providers == {"unet": "diffusekit-models", "scheduler": "diffusekit-schedulers"}
    unet = next(c for c in report["components"] if c["name"] == "unet")
    expected = sum(p.numel() for p in _builders.ddim().unet.parameters())
    assert unet["parameters"] == expected and unet["formats"] == ["safetensors"]
    assert report["check"].startswith("OK")


# --------------------------------------------------------------------- the embedded model


def test_default_model_is_a_ddim_checkpoint_the_cli_finds():
    from diffusekit_unconditional import default_model_path

    index = json.loads((default_model_path() / "model_index.json").read_text())
    assert index["_class_name"] == "DDIMPipeline"
    result = invoke("inspect", default_model_path(), "--check")
    assert result.exit_code == 0, result.output


def round_trip(images: np.ndarray, size: int) -> np.ndarray:
    """(n, 8, 8) in [0, 1] -> upscaled bilinearly to `size` as the model's training data
    were, then area-averaged back to 8x8 as the samples are: (n, 64)."""
    import torch.nn.functional as F

    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return to_8x8(x.clamp(0, 1))


def to_8x8(x: torch.Tensor) -> np.ndarray:
    import torch.nn.functional as F

    if x.shape[-1] != 8:
        x = F.interpolate(x, size=(8, 8), mode="area")
    return x.reshape(x.shape[0], -1).double().numpy()


def digits_classifier(size: int):
    """An RBF support-vector classifier on 75% of sklearn's digits (as shipped and
    round-tripped through the model's resolution); its accuracy on the round-tripped other 25%,
    and their indices.

    Its probabilities are libsvm's (pairwise Platt scaling, fitted by internal cross-validation
    with a fixed seed). Among the classifiers tried (logistic regression, an MLP, calibrated
    one-vs-rest SVMs) it was both the most accurate and the only one that also refuses noise:
    the MLP and the calibrated SVMs give most noise images a confident digit. One BLAS thread:
    on a busy machine a thread pool makes this small fit many times slower.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    digits = load_digits()
    images = digits.images / 16.0
    train, test = train_test_split(
        np.arange(len(images)), test_size=0.25, random_state=0, stratify=digits.target
    )
    x_train = np.concatenate(
        [images[train].reshape(len(train), -1), round_trip(images[train], size)]
    )
    y_train = np.concatenate([digits.target[train], digits.target[train]])
    with warnings.catch_warnings():
        # scikit-learn 1.9 deprecates probability=True (removal planned for 1.11) in favour of
        # CalibratedClassifierCV, whose one-vs-rest probabilities are confident on noise.
        warnings.simplefilter("ignore", FutureWarning)
        model = SVC(probability=True, random_state=0).fit(x_train, y_train)
    return model, model.score(round_trip(images[test], size), digits.target[test]), test


def sample_features(path) -> np.ndarray:
    """A generated image as classifier features: 8x8 area average, [0, 1], ink bright."""
    pixels = np.asarray(PIL.Image.open(path).convert("L"), dtype=np.float32) / 255.0
    return to_8x8(torch.from_numpy(pixels)[None, None])[0]


def digit_score(model, features: np.ndarray) -> tuple[float, list[int]]:
    """(fraction classified with confidence >= 0.8, the digits among those)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        probabilities = model.predict_proba(features)
    confident = probabilities.max(axis=1) >= 0.8
    labels = model.classes_[probabilities.argmax(axis=1)]
    return float(confident.mean()), sorted(set(labels[confident].tolist()))


def passes(score: tuple[float, list[int]]) -> bool:
    fraction, digits = score
    return fraction >= 0.7 and len(digits) >= 8


@pytest.fixture(scope="module")
def default_size() -> int:
    from diffusekit_unconditional import default_model_path

    config = json.loads((default_model_path() / "unet" / "config.json").read_text())
    return int(config["sample_size"])


@pytest.fixture(scope="module")
def classifier(default_size):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return digits_classifier(default_size)


def test_the_digit_score_passes_real_digits_and_fails_noise(classifier, default_size):
    """The scorer can fail: smooth noise at the model's resolution does not pass it, real
    held-out digits sent through the same resolution round trip do."""
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    model, _, held_out = classifier
    real = load_digits().images[held_out[:64]] / 16.0
    assert passes(digit_score(model, round_trip(real, default_size)))
    noise = torch.rand(64, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    blobs = F.interpolate(noise, size=(default_size, default_size), mode="bilinear")
    assert not passes(digit_score(model, to_8x8(blobs.clamp(0, 1))))
    assert not passes(digit_score(model, to_8x8(torch.zeros(64, 1, 8, 8))))


def test_default_model_draws_recognisable_digits(tmp_path, classifier):
    start = time.perf_counter()
    result = generate("--num-images", 64, "--seed", 0, "--steps", 20, "-o", tmp_path / "d.png")
    seconds = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    samples = np.stack([sample_features(tmp_path / f"d-{i}.png") for i in range(64)])
    model, held_out, _ = classifier
    fraction, shown = digit_score(model, samples)
    print(
        f"\nclassifier held-out accuracy {held_out:.3f}; {fraction:.0%} of 64 samples with "
        f"confidence >= 0.8; digits among them: {shown}; generate took {seconds:.1f} s"
    )
    assert held_out >= 0.9
    assert fraction >= 0.7
    assert len(shown) >= 8
