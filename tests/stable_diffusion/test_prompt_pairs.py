"""With guidance, a prompt and its negative are encoded in one text-encoder call."""

from __future__ import annotations

import warnings
from unittest import mock

import pytest
import torch
from diffusekit_stable_diffusion import prompts, tiny

from diffusekit.errors import DiffusekitWarning


@pytest.fixture(scope="module")
def parts() -> tuple:
    components = tiny.components()
    return components["tokenizer"], components["text_encoder"]


def _encode(parts: tuple, calls: list, **options) -> tuple[torch.Tensor, torch.Tensor | None]:
    tokenizer, encoder = parts
    spy = mock.Mock(wraps=encoder, config=encoder.config, dtype=encoder.dtype)
    spy.side_effect = lambda ids, **kw: (calls.append(ids.shape[0]), encoder(ids, **kw))[1]
    return prompts.encode_prompt(tokenizer, spy, device="cpu", **options)


@pytest.mark.parametrize(
    ("prompt", "negative"), [("a cat", None), (["a cat", "a dog"], ["blurry", ""])]
)
def test_one_call_gives_what_two_separate_encodings_give(parts, prompt, negative) -> None:
    tokenizer, encoder = parts
    calls: list[int] = []
    with torch.no_grad():
        embeds, negative_embeds = _encode(
            parts, calls, prompt=prompt, negative_prompt=negative,
            num_images_per_prompt=2, do_classifier_free_guidance=True,
        )  # fmt: skip
        texts = [prompt] if isinstance(prompt, str) else prompt
        alone = prompts.encode_text(tokenizer, encoder, texts, "cpu")
        negatives = prompts.negative_prompts(prompt, negative, len(texts))
        negatives_alone = prompts.encode_text(tokenizer, encoder, negatives, "cpu", max_length=77)
    assert calls == [2 * len(texts)]
    torch.testing.assert_close(embeds, prompts.per_image(alone, 2), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(
        negative_embeds, prompts.per_image(negatives_alone, 2), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize(
    "options",
    [
        {"do_classifier_free_guidance": False},
        {"do_classifier_free_guidance": True, "clip_skip": 1},
        {"do_classifier_free_guidance": True, "negative_prompt_embeds": torch.zeros(1, 77, 32)},
    ],
    ids=["no-guidance", "clip-skip", "given-negative"],
)
def test_other_cases_encode_the_prompt_alone(parts, options) -> None:
    calls: list[int] = []
    with torch.no_grad():
        _encode(parts, calls, prompt="a cat", num_images_per_prompt=1, **options)
    assert calls[0] == 1


def test_only_the_prompt_is_checked_for_truncation(parts) -> None:
    calls: list[int] = []
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        _encode(parts, calls, prompt="word " * 100, negative_prompt="word " * 100,
                num_images_per_prompt=1, do_classifier_free_guidance=True)  # fmt: skip
    truncations = [w for w in caught if issubclass(w.category, DiffusekitWarning)]
    assert len(truncations) == 1 and "dropped" in str(truncations[0].message)
