"""What the Stable Diffusion parity tests share: the reference's tiny text encoder and
tokenizer, one seeded call of a pipeline, and the same scheduler swapped in on both sides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import diffusers
import torch
from diffusekit_stable_diffusion import tiny
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from diffusekit import registry


def text_encoder_and_tokenizer(folder: Path) -> tuple[CLIPTextModel, CLIPTokenizer]:
    """The tiny CLIP text encoder (seed 0) and its tokenizer, written under `folder`."""
    torch.manual_seed(0)
    config = CLIPTextConfig(vocab_size=len(tiny.vocabulary()), **tiny.TEXT_ENCODER)
    text_encoder = CLIPTextModel(config).eval()
    tokenizer = CLIPTokenizer.from_pretrained(
        tiny.write_tokenizer_files(folder / "vocabulary"), model_max_length=77
    )
    return text_encoder, tokenizer


def run(pipe: Any, call: dict[str, Any], steps: int = 3) -> Any:
    """`pipe(**call)` with ``output_type="np"``.

    ``call["generators"]`` = n gives one generator per image, seeded 0 .. n-1 (else one
    generator seeded 0); ``call["steps"]`` overrides `steps`.
    """
    kwargs = {k: v for k, v in call.items() if k not in ("generators", "steps")}
    count = call.get("generators")
    generators = [torch.Generator().manual_seed(i) for i in range(count or 1)]
    return pipe(
        **kwargs,
        num_inference_steps=call.get("steps", steps),
        generator=generators if count else generators[0],
        output_type="np",
    )


def swap_scheduler(reference: Any, ours: Any, scheduler: str) -> None:
    """`scheduler` from each side's current config; PNDM as Stable Diffusion samples with it
    (PLMS: no Runge-Kutta warm-up)."""
    options = {"skip_prk_steps": True} if scheduler == "PNDMScheduler" else {}
    reference.scheduler = getattr(diffusers, scheduler).from_config(
        reference.scheduler.config, **options
    )
    ours.scheduler = registry.resolve("diffusers", scheduler).from_config(
        ours.scheduler.config, **options
    )
