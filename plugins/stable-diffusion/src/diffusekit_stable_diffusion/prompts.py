"""Prompt encoding for CLIP-conditioned pipelines: text -> the UNet's cross-attention input.

Prompts are tokenized to the tokenizer's `model_max_length` (77 for CLIP), padded, and
encoded by the text encoder; the last hidden state (after the final layer norm) is the
conditioning. With `clip_skip` = k the hidden state k layers before the last is used instead,
still passed through the final layer norm. Longer prompts are cut to the limit, with a
`DiffusekitWarning` that shows the dropped text.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import torch

from diffusekit.errors import DiffusekitWarning

_TOKENIZER_LOCK = threading.Lock()


def tokenize(tokenizer: Any, prompts: list[str], **options: Any) -> Any:
    """``tokenizer(prompts, **options)``, one call at a time.

    Fast (Rust-backed) tokenizers set padding and truncation on the shared tokenizer object
    for each call, so a call running beside another with other settings can come back unpadded
    (a pipeline called from several threads then conditions on 3 tokens instead of 77).
    """
    with _TOKENIZER_LOCK:
        return tokenizer(prompts, **options)


def encode_text(
    tokenizer: Any,
    text_encoder: Any,
    prompts: list[str],
    device: torch.device | str,
    *,
    max_length: int | None = None,
    clip_skip: int | None = None,
) -> torch.Tensor:
    """Hidden states (len(prompts), tokens, width) of `prompts`, padded to `max_length`."""
    length = max_length if max_length is not None else tokenizer.model_max_length
    tokens = tokenize(
        tokenizer,
        prompts,
        padding="max_length",
        max_length=length,
        truncation=True,
        return_tensors="pt",
    )
    if max_length is None:
        warn_if_truncated(tokenizer, prompts, length)
    mask = None
    if getattr(text_encoder.config, "use_attention_mask", False):
        mask = tokens.attention_mask.to(device)
    ids = tokens.input_ids.to(device)
    if clip_skip is None:
        return text_encoder(ids, attention_mask=mask)[0]
    hidden = text_encoder(ids, attention_mask=mask, output_hidden_states=True).hidden_states
    return final_layer_norm(text_encoder)(hidden[-(clip_skip + 1)])


def final_layer_norm(text_encoder: Any) -> Any:
    """The text encoder's last layer norm: under ``text_model`` before transformers 5, on the
    model itself since."""
    return getattr(text_encoder, "text_model", text_encoder).final_layer_norm


def warn_if_truncated(tokenizer: Any, prompts: list[str], max_length: int) -> None:
    """Warn, showing the dropped text, for each prompt longer than `max_length` tokens."""
    dropped = []
    for ids in tokenize(tokenizer, prompts).input_ids:
        if len(ids) > max_length:
            dropped.append(tokenizer.decode(ids[max_length - 1 : -1]))
    if dropped:
        warnings.warn(
            f"prompt: the text encoder takes at most {max_length} tokens, so this part of the "
            f"prompt was dropped: {dropped}",
            DiffusekitWarning,
            stacklevel=4,
        )


def negative_prompts(
    prompt: str | list[str] | None, negative_prompt: str | list[str] | None, batch_size: int
) -> list[str]:
    """One negative prompt per prompt: empty strings by default, a single string for each."""
    if negative_prompt is None:
        return [""] * batch_size
    if prompt is not None and type(prompt) is not type(negative_prompt):
        raise TypeError(
            f"negative_prompt: expected the type of prompt ({type(prompt).__name__}), "
            f"found {type(negative_prompt).__name__}"
        )
    if isinstance(negative_prompt, str):
        return [negative_prompt] * batch_size
    if len(negative_prompt) != batch_size:
        raise ValueError(
            f"negative_prompt: expected one per prompt ({batch_size}), found {len(negative_prompt)}"
        )
    return list(negative_prompt)


def per_image(embeds: torch.Tensor, num_images_per_prompt: int) -> torch.Tensor:
    """Repeat each prompt's embedding for its images: rows p0, p0, p1, p1 for 2 per prompt."""
    return embeds.repeat_interleave(num_images_per_prompt, dim=0)


def encode_pair(
    tokenizer: Any,
    text_encoder: Any,
    prompts: list[str],
    negatives: list[str],
    device: torch.device | str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(prompt, negative) hidden states from one text-encoder call on both lists.

    The same values as encoding each list on its own (every row is encoded independently),
    in half the calls: one batch of 2n rows costs much less than two of n for small models.
    """
    warn_if_truncated(tokenizer, prompts, tokenizer.model_max_length)
    both = encode_text(
        tokenizer, text_encoder, prompts + negatives, device, max_length=tokenizer.model_max_length
    )
    return both[: len(prompts)], both[len(prompts) :]


def encode_prompt(
    tokenizer: Any,
    text_encoder: Any,
    prompt: str | list[str] | None,
    device: torch.device | str,
    num_images_per_prompt: int,
    do_classifier_free_guidance: bool,
    negative_prompt: str | list[str] | None = None,
    prompt_embeds: torch.Tensor | None = None,
    negative_prompt_embeds: torch.Tensor | None = None,
    clip_skip: int | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(prompt_embeds, negative_prompt_embeds), one row per image to generate.

    Given embeddings are used as they are; missing ones are encoded. The negative embeddings
    are encoded only for classifier-free guidance (else returned as given, usually None).
    The unconditional prompt is padded to the length of the prompt's embeddings. `dtype`
    defaults to the text encoder's.
    """
    if prompt_embeds is None:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt or [])
        if do_classifier_free_guidance and negative_prompt_embeds is None and clip_skip is None:
            negatives = negative_prompts(prompt, negative_prompt, len(prompts))
            prompt_embeds, negative_prompt_embeds = encode_pair(
                tokenizer, text_encoder, prompts, negatives, device
            )
        else:
            prompt_embeds = encode_text(
                tokenizer, text_encoder, prompts, device, clip_skip=clip_skip
            )
    if dtype is None:
        dtype = text_encoder.dtype if text_encoder is not None else prompt_embeds.dtype
    prompt_embeds = per_image(prompt_embeds.to(dtype=dtype, device=device), num_images_per_prompt)
    if do_classifier_free_guidance and negative_prompt_embeds is None:
        batch = prompt_embeds.shape[0] // num_images_per_prompt
        negatives = negative_prompts(prompt, negative_prompt, batch)
        negative_prompt_embeds = encode_text(
            tokenizer, text_encoder, negatives, device, max_length=prompt_embeds.shape[1]
        )
    if do_classifier_free_guidance and negative_prompt_embeds is not None:
        negative_prompt_embeds = negative_prompt_embeds.to(dtype=dtype, device=device)
        negative_prompt_embeds = per_image(negative_prompt_embeds, num_images_per_prompt)
    return prompt_embeds, negative_prompt_embeds
