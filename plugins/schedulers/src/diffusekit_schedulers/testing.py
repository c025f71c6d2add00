"""`SchedulerConformance`: tests every diffusekit scheduler should pass, reusable by plugins.

Subclass it in a test module (the class name must start with ``Test`` for pytest to collect it)::

    from diffusekit_schedulers.testing import SchedulerConformance
    from my_plugin import MyScheduler

    class TestMyScheduler(SchedulerConformance):
        scheduler_class = MyScheduler
        config = {"num_train_timesteps": 100}

What is checked: declared capabilities (`order`, `step_options`), the `set_timesteps` length,
`step` output shapes and dtypes (also with ``return_dict=False``), determinism for a seed,
`fork()` isolation (two forks stepped interleaved give the sequential results and leave the
original untouched), and config round trips (`from_config`, `save_config` + `from_pretrained`).

Schedulers driven by a different loop (predictor-corrector, churn) override `drive`.
Only torch and the core are needed; nothing here imports the reference library.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import torch

__all__ = ["SchedulerConformance", "fake_model_output"]

STEP_FIXED_PARAMETERS = frozenset({"self", "model_output", "timestep", "sample", "return_dict"})


def fake_model_output(sample: torch.Tensor, t: Any) -> torch.Tensor:
    """A deterministic stand-in for a network: sample * t / (t + 1) plus a fixed tensor."""
    t = torch.as_tensor(t, dtype=sample.dtype, device=sample.device)
    fixed = torch.linspace(-1, 1, sample.numel(), dtype=sample.dtype, device=sample.device)
    return sample * t / (t + 1) + 0.1 * fixed.reshape(sample.shape)


class SchedulerConformance:
    """Base test class; set `scheduler_class` (and `config` when the defaults do not suit)."""

    scheduler_class: ClassVar[type]
    config: ClassVar[dict[str, Any]] = {}
    num_inference_steps: ClassVar[int] = 6
    sample_shape: ClassVar[tuple[int, ...]] = (2, 4, 8, 8)
    expected_num_timesteps: ClassVar[int | None] = None
    """Length of `timesteps` after `set_timesteps(num_inference_steps)`; default
    ``order * n - (order - 1)`` (second-order samplers list inner timesteps twice)."""

    # ------------------------------------------------------------------ hooks

    def make(self) -> Any:
        return self.scheduler_class(**self.config)

    def initial_sample(self, scheduler: Any) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        sample = torch.randn(self.sample_shape, generator=generator)
        return sample * float(getattr(scheduler, "init_noise_sigma", 1.0))

    def step_kwargs(self, scheduler: Any, seed: int) -> dict[str, Any]:
        if "generator" in type(scheduler).step_options:
            return {"generator": torch.Generator().manual_seed(seed)}
        return {}

    def trajectory(self, scheduler: Any, seed: int = 0) -> Iterator[torch.Tensor]:
        """Run a whole trajectory, yielding the sample after every step.

        Override for schedulers driven differently (predictor-corrector, churn + correction).
        """
        scheduler.set_timesteps(self.num_inference_steps)
        sample = self.initial_sample(scheduler)
        kwargs = self.step_kwargs(scheduler, seed)
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(sample, t)
            sample = scheduler.step(
                fake_model_output(model_input, t), t, sample, **kwargs
            ).prev_sample
            yield sample

    def drive(self, scheduler: Any, seed: int = 0) -> list[torch.Tensor]:
        return list(self.trajectory(scheduler, seed))

    def interleaved(self, first: Any, second: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Step two schedulers alternately, one step each in turn."""
        pairs = list(zip(self.trajectory(first), self.trajectory(second)))
        return [a for a, _ in pairs], [b for _, b in pairs]

    # ------------------------------------------------------------------ checks

    @staticmethod
    def assert_all_close(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
        assert len(a) == len(b), f"{len(a)} samples vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            torch.testing.assert_close(x, y, rtol=0, atol=0, msg=lambda m, i=i: f"sample {i}: {m}")

    def test_declares_capabilities(self) -> None:
        cls = self.scheduler_class
        assert isinstance(cls.order, int) and cls.order >= 1, f"order: {cls.order!r}"
        assert isinstance(cls.step_options, frozenset), "step_options must be a frozenset"
        assert all(isinstance(name, str) for name in cls.step_options)
        assert isinstance(cls.compatibility_families, tuple)
        step = getattr(cls, "step", None)
        if step is not None and cls.step_options:
            params = set(inspect.signature(step).parameters) - STEP_FIXED_PARAMETERS
            missing = set(cls.step_options) - params
            assert not missing, f"step_options {sorted(missing)} are not parameters of step"

    def test_set_timesteps_length(self) -> None:
        scheduler = self.make()
        scheduler.set_timesteps(self.num_inference_steps)
        order = self.scheduler_class.order
        expected = self.expected_num_timesteps or order * self.num_inference_steps - (order - 1)
        assert len(scheduler.timesteps) == expected

    def test_step_output_shape_and_dtype(self) -> None:
        samples = self.drive(self.make())
        assert samples, "drive produced no samples"
        for sample in samples:
            assert sample.shape == self.sample_shape
            assert sample.dtype == torch.float32
            assert torch.isfinite(sample).all()

    def test_return_dict_false_gives_a_tuple(self) -> None:
        scheduler = self.make()
        scheduler.set_timesteps(self.num_inference_steps)
        t = scheduler.timesteps[0]
        sample = self.initial_sample(scheduler)
        model_input = scheduler.scale_model_input(sample, t)
        out = fake_model_output(model_input, t)
        kwargs = self.step_kwargs(scheduler, 0)
        as_tuple = scheduler.fork().step(out, t, sample, return_dict=False, **kwargs)
        as_output = scheduler.fork().step(out, t, sample, **self.step_kwargs(scheduler, 0))
        assert isinstance(as_tuple, tuple)
        torch.testing.assert_close(as_tuple[0], as_output.prev_sample, rtol=0, atol=0)

    def test_same_seed_same_trajectory(self) -> None:
        self.assert_all_close(self.drive(self.make(), seed=3), self.drive(self.make(), seed=3))

    def test_fork_isolation(self) -> None:
        base = self.make()
        base.set_timesteps(self.num_inference_steps)
        before = base.timesteps.clone()
        sequential = self.drive(base.fork())
        again = self.drive(base.fork())
        self.assert_all_close(sequential, again)
        first, second = self.interleaved(base.fork(), base.fork())
        self.assert_all_close(first, sequential)
        self.assert_all_close(second, sequential)
        assert torch.equal(base.timesteps, before), "forks changed the original's timesteps"
        self.assert_all_close(self.drive(base), sequential)

    def test_from_config_round_trip(self) -> None:
        scheduler = self.make()
        copy = self.scheduler_class.from_config(scheduler.config)
        assert dict(copy.config) == dict(scheduler.config)
        self.assert_all_close(self.drive(copy), self.drive(scheduler))

    def test_save_and_load(self, tmp_path: Path) -> None:
        scheduler = self.make()
        scheduler.save_pretrained(tmp_path)
        loaded = self.scheduler_class.from_pretrained(tmp_path)
        public = {k: v for k, v in scheduler.config.items() if not k.startswith("_")}
        assert {k: v for k, v in loaded.config.items() if not k.startswith("_")} == public
        self.assert_all_close(self.drive(loaded), self.drive(scheduler))
