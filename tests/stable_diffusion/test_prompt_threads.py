"""Prompt encoding from several threads: tokenizer calls never overlap.

Fast tokenizers keep padding and truncation settings on the shared object for each call, so
two overlapping calls with different settings (padded encoding, unpadded length check) can
make a padded call come back unpadded; `prompts.tokenize` serializes them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import torch
from diffusekit_stable_diffusion import prompts, tiny


class OverlapCounter:
    """A tokenizer wrapper that counts how many calls run at once."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer, self._lock = tokenizer, threading.Lock()
        self.active = self.most = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)

    def __call__(self, texts: list[str], **options: Any) -> Any:
        with self._lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.005)
        try:
            return self._tokenizer(texts, **options)
        finally:
            with self._lock:
                self.active -= 1


def test_concurrent_encodings_tokenize_one_at_a_time_and_agree():
    components = tiny.components()
    tokenizer = OverlapCounter(components["tokenizer"])
    encoder = components["text_encoder"]
    expected = prompts.encode_text(tokenizer, encoder, ["hello"], "cpu")
    found: list[torch.Tensor] = []

    def run() -> None:
        for _ in range(3):
            found.append(prompts.encode_text(tokenizer, encoder, ["hello"], "cpu"))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tokenizer.most == 1
    assert len(found) == 12
    assert all(torch.equal(embeds, expected) for embeds in found)
