"""Seeded noise: one generator, a list per batch row, and the errors."""

from __future__ import annotations

import pytest
import torch

from diffusekit.noise import randn_like, randn_tensor


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_one_generator_draws_the_whole_batch_in_one_stream():
    noise = randn_tensor((2, 3, 4), seeded(0))
    torch.testing.assert_close(noise, torch.randn((2, 3, 4), generator=seeded(0)))


def test_a_list_draws_each_row_from_its_own_generator():
    batch = randn_tensor((3, 2, 2), [seeded(5), seeded(6), seeded(7)])
    for row, seed in zip(batch, (5, 6, 7)):
        torch.testing.assert_close(row, randn_tensor((1, 2, 2), seeded(seed))[0])


def test_a_list_of_one_is_that_generator():
    torch.testing.assert_close(randn_tensor((2, 3), [seeded(1)]), randn_tensor((2, 3), seeded(1)))


def test_a_list_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match=r"generator: .*expected 3, found 2"):
        randn_tensor((3, 2), [seeded(0), seeded(1)])


def test_dtype_device_and_like():
    like = torch.zeros(2, 2, dtype=torch.float64)
    noise = randn_like(like, seeded(0))
    assert noise.dtype == torch.float64 and noise.shape == like.shape
    torch.testing.assert_close(noise, torch.randn((2, 2), generator=seeded(0), dtype=torch.float64))


def test_pipelines_can_ask_for_exactly_one_generator_per_item():
    from diffusekit.noise import check_generators

    check_generators([seeded(0)], 2)
    with pytest.raises(ValueError, match=r"expected 2 \(batch_size\), found 1"):
        check_generators([seeded(0)], 2, exact=True, counted=" (batch_size)")
