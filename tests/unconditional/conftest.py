"""One torch thread while these tests run: tiny models on a shared 2-core machine run tens of
times faster without intra-op threads competing with other processes."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
