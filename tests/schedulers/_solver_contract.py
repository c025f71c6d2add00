"""Behaviour every exponential-integrator solver here shares, as a base test class."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from diffusekit.errors import ConfigError

from ._solvers import run, toy_output


class SolverContract:
    scheduler_class: ClassVar[type]
    registry_name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}

    def make(self, **config: Any) -> Any:
        return self.scheduler_class(**{**self.options, **config})

    def test_resolves_through_the_registry(self) -> None:
        from diffusekit import registry

        assert registry.resolve("diffusers", self.registry_name) is self.scheduler_class

    def test_declares_family_options_and_order(self) -> None:
        cls = self.scheduler_class
        assert cls.compatibility_families == ("discrete-betas",)
        assert cls.order == 1
        assert isinstance(cls.step_options, frozenset)

    def test_save_and_load_round_trip(self, tmp_path) -> None:
        scheduler = self.make(solver_order=3, beta_schedule="scaled_linear")
        scheduler.save_config(tmp_path)
        loaded = self.scheduler_class.from_pretrained(tmp_path)
        assert loaded.config["solver_order"] == 3
        assert loaded.config["beta_schedule"] == "scaled_linear"
        assert [x.tolist() for x in run(loaded, 6)] == [
            x.tolist() for x in run(self.make(solver_order=3, beta_schedule="scaled_linear"), 6)
        ]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("solver_order", 4),
            ("solver_order", 0),
            ("prediction_type", "noise"),
            ("beta_schedule", "cubic"),
        ],
    )
    def test_invalid_field_is_named(self, field: str, value: Any) -> None:
        with pytest.raises(ConfigError, match=field):
            self.make(**{field: value})

    def test_only_one_sigma_ramp(self) -> None:
        with pytest.raises(ConfigError, match="use_karras_sigmas"):
            self.make(use_karras_sigmas=True, use_exponential_sigmas=True)

    def test_flow_matching_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="flow"):
            self.make(use_flow_sigmas=True)

    def test_step_before_set_timesteps(self) -> None:
        scheduler = self.make()
        x = torch.zeros(1, 3, 2, 2)
        with pytest.raises(RuntimeError, match="set_timesteps"):
            scheduler.step(x, 999, x)

    def test_fork_leaves_the_parent_alone(self) -> None:
        parent = self.make(solver_order=3)
        parent.set_timesteps(8)
        x = torch.ones(1, 3, 2, 2)
        for t in parent.timesteps[:3]:
            x = parent.step(toy_output(x, t), t, x).prev_sample
        before = (parent.step_index, parent.lower_order_nums, [id(m) for m in parent.model_outputs])
        child = parent.fork()
        child.set_timesteps(5)
        y = torch.ones(1, 3, 2, 2)
        for t in child.timesteps:
            y = child.step(toy_output(y, t), t, y).prev_sample
        after = (parent.step_index, parent.lower_order_nums, [id(m) for m in parent.model_outputs])
        assert after == before
        assert len(parent.timesteps) == 8

    def test_interleaved_forks_equal_separate_runs(self) -> None:
        base = self.make(solver_order=2)
        a, b = base.fork(), base.fork()
        a.set_timesteps(7)
        b.set_timesteps(7)
        xa = torch.linspace(-1, 1, 12).reshape(1, 3, 2, 2)
        xb = xa * 2
        for t in a.timesteps:
            xa = a.step(toy_output(xa, t), t, xa).prev_sample
            xb = b.step(toy_output(xb, t), t, xb).prev_sample
        alone_a = self.make(solver_order=2)
        alone_a.set_timesteps(7)
        ya = torch.linspace(-1, 1, 12).reshape(1, 3, 2, 2)
        for t in alone_a.timesteps:
            ya = alone_a.step(toy_output(ya, t), t, ya).prev_sample
        assert torch.equal(xa, ya)
        assert not torch.equal(xa, xb)

    def test_float64_samples_stay_float64(self) -> None:
        scheduler = self.make()
        scheduler.set_timesteps(4)
        x = torch.ones(1, 3, 2, 2, dtype=torch.float64)
        t = scheduler.timesteps[0]
        assert scheduler.step(toy_output(x, t), t, x).prev_sample.dtype == torch.float64

    def test_first_step_is_ddim(self) -> None:
        """Every solver starts at first order: the deterministic DDIM step (Song et al. eq. 12)."""
        scheduler = self.make()
        scheduler.set_timesteps(10)
        x = torch.linspace(-1, 1, 12).reshape(1, 3, 2, 2)
        t = scheduler.timesteps[0]
        eps = toy_output(x, t)
        ac = scheduler.alphas_cumprod
        a_s, a_t = ac[t].double(), ac[scheduler.timesteps[1]].double()
        x0 = (x.double() - (1 - a_s).sqrt() * eps.double()) / a_s.sqrt()
        expected = a_t.sqrt() * x0 + (1 - a_t).sqrt() * eps.double()
        got = scheduler.step(eps, t, x).prev_sample
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)

    def test_add_noise_is_the_forward_process(self) -> None:
        scheduler = self.make()
        scheduler.set_timesteps(10)
        x0 = torch.ones(2, 1, 2, 2)
        noise = torch.full((2, 1, 2, 2), 0.5)
        t = scheduler.timesteps[[2, 5]]
        noisy = scheduler.add_noise(x0, noise, t)
        ac = scheduler.alphas_cumprod[t].reshape(2, 1, 1, 1)
        torch.testing.assert_close(
            noisy, ac.sqrt() * x0 + (1 - ac).sqrt() * noise, rtol=1e-5, atol=1e-6
        )
