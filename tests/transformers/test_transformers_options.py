"""The ``diffusekit_load_options`` answer: which kwargs each transformers loader gets."""

from __future__ import annotations

import inspect

import pytest
import torch
import transformers
from diffusekit_transformers._version import parse_release
from diffusekit_transformers.options import from_pretrained_kwargs

from diffusekit import _hook_manager

HUB = {
    "revision": "abc123",
    "cache_dir": "/tmp/cache",
    "local_files_only": True,
    "token": "hf_x",
    "force_download": False,
}
EVERYTHING = {
    **HUB,
    "dtype": torch.float16,
    "variant": "fp16",
    "use_safetensors": True,
    "low_cpu_mem_usage": True,
    "device_map": "cpu",
}
NON_MODELS = ["CLIPTokenizer", "CLIPImageProcessor", "CLIPProcessor", "CLIPTextConfig"]


def test_model_on_transformers_5_gets_dtype_and_no_low_cpu_mem_usage():
    kwargs = from_pretrained_kwargs(transformers.CLIPTextModel, EVERYTHING, release=(5, 23))
    assert kwargs == {
        **HUB,
        "dtype": torch.float16,
        "variant": "fp16",
        "use_safetensors": True,
        "device_map": "cpu",
    }


@pytest.mark.parametrize(
    ("release", "keyword"), [((4, 40), "torch_dtype"), ((4, 55), "torch_dtype"), ((4, 56), "dtype")]
)
def test_dtype_keyword_follows_the_release(release, keyword):
    kwargs = from_pretrained_kwargs(transformers.CLIPTextModel, EVERYTHING, release=release)
    assert kwargs[keyword] is torch.float16
    assert {"dtype", "torch_dtype"} & set(kwargs) == {keyword}
    assert kwargs["low_cpu_mem_usage"] is True


def test_installed_transformers_decides_the_dtype_keyword():
    release = parse_release(transformers.__version__)
    kwargs = from_pretrained_kwargs(transformers.CLIPTextModel, {"dtype": torch.bfloat16})
    keyword = "dtype" if release >= (4, 56) else "torch_dtype"
    assert kwargs == {keyword: torch.bfloat16, "use_safetensors": True}


@pytest.mark.parametrize("given", [{}, {"use_safetensors": None}, {"use_safetensors": True}])
def test_models_never_fall_back_to_pickles_unless_asked(given):
    kwargs = from_pretrained_kwargs(transformers.CLIPTextModel, given)
    assert kwargs["use_safetensors"] is True
    assert "weights_only" not in kwargs


def test_explicit_use_safetensors_false_still_loads_weights_only():
    kwargs = from_pretrained_kwargs(transformers.CLIPTextModel, {"use_safetensors": False})
    assert kwargs["use_safetensors"] is False
    loader = inspect.signature(transformers.CLIPTextModel.from_pretrained)
    expected = True if "weights_only" in loader.parameters else None
    assert kwargs.get("weights_only") is expected


@pytest.mark.parametrize("name", NON_MODELS)
def test_tokenizers_processors_and_configs_get_hub_options_only(name):
    kwargs = from_pretrained_kwargs(getattr(transformers, name), EVERYTHING, release=(4, 40))
    assert kwargs == HUB


def test_absent_and_none_options_are_not_passed():
    given = {"revision": None, "dtype": None, "variant": None, "token": None}
    assert from_pretrained_kwargs(transformers.CLIPTokenizer, given) == {}
    assert from_pretrained_kwargs(transformers.CLIPTextModel, given) == {"use_safetensors": True}


def test_core_hook_call_answers_for_transformers_only():
    model = transformers.CLIPTextModel
    answer = _hook_manager.load_options("transformers", model, {"dtype": torch.float16})
    assert answer is not None and answer["use_safetensors"] is True
    assert torch.float16 in answer.values()
    assert _hook_manager.load_options("diffusers", model, {"dtype": torch.float16}) is None


def test_core_hook_call_leaves_foreign_classes_registered_under_transformers_alone():
    class OwnTextEncoder(torch.nn.Module):
        @classmethod
        def from_pretrained(cls, path, dtype=None): ...

    assert _hook_manager.load_options("transformers", OwnTextEncoder, {"dtype": 1}) is None


def test_subclass_of_a_transformers_model_is_treated_as_a_model():
    class Tuned(transformers.CLIPTextModel):
        pass

    kwargs = from_pretrained_kwargs(Tuned, {"dtype": torch.float16}, release=(5, 0))
    assert kwargs == {"dtype": torch.float16, "use_safetensors": True}


@pytest.mark.parametrize(
    ("text", "release"), [("4.56.2", (4, 56)), ("5.0.0rc1", (5, 0)), ("4.40.0.dev0", (4, 40))]
)
def test_parse_release(text, release):
    assert parse_release(text) == release


def test_parse_release_names_what_it_found():
    with pytest.raises(ValueError, match="'main'"):
        parse_release("main")
