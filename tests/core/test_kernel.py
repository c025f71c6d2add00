"""The denoising kernel with a toy denoiser and a toy stateful scheduler."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import pytest
import torch

from diffusekit import kernel
from diffusekit.pipeline import DiffusionPipeline
from diffusekit.scheduling import SchedulerConfig, SchedulerMixin, SchedulerOutput


class ToySchedulerConfig(SchedulerConfig):
    num_train_timesteps: int = 100
    shrink: float = 0.1


class ToyScheduler(SchedulerMixin):
    """A multistep-like scheduler: each step averages all model outputs seen so far."""

    config_class = ToySchedulerConfig
    step_options: ClassVar[frozenset[str]] = frozenset({"generator"})
    init_noise_sigma = 1.0

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.timesteps: torch.Tensor | None = None
        self.history: list[torch.Tensor] = []
        self.begin_index: int | None = None

    def set_timesteps(self, num_inference_steps: int, device: Any = None) -> None:
        top = self.config.num_train_timesteps - 1
        self.timesteps = torch.linspace(top, 0, num_inference_steps).long().to(device)
        self.history = []

    def set_begin_index(self, begin_index: int = 0) -> None:
        self.begin_index = begin_index

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        return sample * 0.5

    def step(
        self,
        model_output: torch.Tensor,
        timestep: Any,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> SchedulerOutput:
        self.history.append(model_output)
        average = sum(self.history) / len(self.history)
        prev = sample - self.config.shrink * average
        if generator is not None:
            prev = prev + 0.01 * torch.randn(sample.shape, generator=generator)
        return SchedulerOutput(prev_sample=prev)


class ToyNet(torch.nn.Module):
    """Output depends on input, timestep and conditioning, so batching mistakes show."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.9))
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[0])
        return self.scale * x + 0.001 * t.float() + cond[:, :, None, None]


class ToyPipeline(DiffusionPipeline):
    _callback_tensor_inputs: ClassVar[list[str]] = ["latents", "cond"]

    def __init__(self, net: ToyNet, scheduler: ToyScheduler) -> None:
        super().__init__()
        self.register_modules(net=net, scheduler=scheduler)
        self.set_progress_bar_config(disable=True)

    def __call__(
        self,
        latents: torch.Tensor,
        cond: torch.Tensor,
        negative: torch.Tensor | None = None,
        num_inference_steps: int = 5,
        guidance_scale: float = 1.0,
        guidance_rescale: float = 0.0,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> torch.Tensor:
        run = kernel.schedule(self.scheduler, num_inference_steps, self._execution_device)
        guidance = kernel.ClassifierFreeGuidance(guidance_scale, guidance_rescale)
        if negative is None:
            negative = torch.zeros_like(cond)
        state = {"latents": latents * run.scheduler.init_noise_sigma}
        state["cond"] = guidance.conditioning(negative, cond)
        return kernel.denoise(
            self,
            run,
            state,
            denoiser=lambda x, t, s: self.net(x, t, s["cond"]),
            guidance=guidance,
            step_options={"generator": generator, "eta": 0.5},
            **options,
        )


def make_pipeline() -> ToyPipeline:
    return ToyPipeline(net=ToyNet(), scheduler=ToyScheduler())


def inputs(batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, 4, 4, generator=gen), torch.randn(batch, 3, generator=gen)


def manual_loop(pipe: ToyPipeline, latents, cond, negative, steps, scale, rescale=0.0):
    """The loop written out by hand, calling the model twice per step (no batching)."""
    scheduler = ToyScheduler(**pipe.scheduler.config)
    scheduler.set_timesteps(steps)
    with torch.no_grad():
        for t in scheduler.timesteps:
            x = scheduler.scale_model_input(latents, t)
            uncond_out = pipe.net(x, t, negative)
            cond_out = pipe.net(x, t, cond)
            guided = uncond_out + scale * (cond_out - uncond_out)
            if rescale:
                dims = [1, 2, 3]
                factor = cond_out.std(dim=dims, keepdim=True) / guided.std(dim=dims, keepdim=True)
                guided = rescale * guided * factor + (1 - rescale) * guided
            latents = scheduler.step(guided, t, latents).prev_sample
    return latents


@pytest.mark.parametrize("rescale", [0.0, 0.7])
def test_guidance_batches_one_call_and_equals_two_calls_combined(rescale):
    pipe = make_pipeline()
    latents, cond = inputs()
    negative = torch.randn(cond.shape, generator=torch.Generator().manual_seed(5))
    out = pipe(latents, cond, negative, guidance_scale=4.0, guidance_rescale=rescale)
    assert pipe.net.calls == [4] * 5, "unconditional and conditional inputs share one call"
    expected = manual_loop(pipe, latents, cond, negative, 5, 4.0, rescale)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_guidance_off_calls_the_model_on_the_conditional_batch_only():
    pipe = make_pipeline()
    latents, cond = inputs()
    out = pipe(latents, cond, guidance_scale=1.0)
    assert pipe.net.calls == [2] * 5
    scheduler = ToyScheduler()
    scheduler.set_timesteps(5)
    expected = latents
    with torch.no_grad():
        for t in scheduler.timesteps:
            output = pipe.net(scheduler.scale_model_input(expected, t), t, cond)
            expected = scheduler.step(output, t, expected).prev_sample
    torch.testing.assert_close(out, expected)


def test_the_pipeline_scheduler_is_never_mutated():
    pipe = make_pipeline()
    pipe(*inputs())
    assert pipe.scheduler.timesteps is None
    assert pipe.scheduler.history == []


def test_step_options_reach_only_schedulers_that_declare_them():
    pipe = make_pipeline()
    latents, cond = inputs()
    with_noise = pipe(latents, cond, generator=torch.Generator().manual_seed(1))
    without = pipe(latents, cond)
    assert not torch.allclose(with_noise, without), "generator reached step()"
    ToyScheduler.step_options = frozenset()
    try:
        ignored = pipe(latents, cond, generator=torch.Generator().manual_seed(1))
    finally:
        ToyScheduler.step_options = frozenset({"generator"})
    torch.testing.assert_close(ignored, without)


def test_callback_replaces_latents_and_sees_requested_tensors():
    pipe = make_pipeline()
    latents, cond = inputs()
    seen: list[tuple[int, list[str]]] = []

    def callback(p, i, t, tensors):
        assert p is pipe
        seen.append((i, sorted(tensors)))
        if i == 2:
            return {"latents": torch.zeros_like(tensors["latents"])}
        return {}

    out = pipe(
        latents,
        cond,
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["latents", "cond"],
    )
    assert seen == [(i, ["cond", "latents"]) for i in range(5)]
    scheduler = ToyScheduler()
    scheduler.set_timesteps(5)
    expected = latents
    with torch.no_grad():
        for i, t in enumerate(scheduler.timesteps):
            output = pipe.net(scheduler.scale_model_input(expected, t), t, cond)
            expected = scheduler.step(output, t, expected).prev_sample
            if i == 2:
                expected = torch.zeros_like(expected)
    torch.testing.assert_close(out, expected)


def test_callback_can_replace_conditioning():
    pipe = make_pipeline()
    latents, cond = inputs()
    other = cond + 3.0

    def swap(p, i, t, tensors):
        return {"cond": other} if i == 0 else None

    swapped = pipe(
        latents, cond, callback_on_step_end=swap, callback_on_step_end_tensor_inputs=["cond"]
    )
    direct = pipe(latents, other)
    assert not torch.allclose(swapped, direct)
    assert pipe.net.calls == [2] * 10


def test_callback_interrupts_the_loop():
    pipe = make_pipeline()

    def stop_after_two(p, i, t, tensors):
        if i == 1:
            p._interrupt = True
        return {}

    pipe(*inputs(), num_inference_steps=6, callback_on_step_end=stop_after_two)
    assert len(pipe.net.calls) == 2
    assert pipe.interrupt
    pipe(*inputs(), num_inference_steps=3)
    assert not pipe.interrupt, "a new call starts uninterrupted"
    assert len(pipe.net.calls) == 5


def test_unknown_callback_tensor_names_are_refused():
    pipe = make_pipeline()
    with pytest.raises(ValueError, match=r"\['noise'\].*choose from \['latents', 'cond'\]"):
        pipe(
            *inputs(),
            callback_on_step_end=lambda *a: {},
            callback_on_step_end_tensor_inputs=["noise"],
        )


def test_transforms_run_after_each_step():
    pipe = make_pipeline()
    latents, cond = inputs()
    indices: list[int] = []

    def clamp(ctx, index, t, x):
        indices.append(index)
        return x.clamp(-0.1, 0.1)

    out = pipe(latents, cond, transforms=[clamp])
    assert indices == list(range(5))
    assert out.abs().max() <= 0.1


def test_custom_step_may_call_the_model_twice():
    pipe = make_pipeline()
    latents, cond = inputs()

    def predictor_corrector(ctx, index, t, x):
        corrected = x - 0.05 * ctx.predict(x, t)
        return ctx.scheduler.step(
            ctx.predict(corrected, t), t, corrected, **ctx.step_kwargs
        ).prev_sample

    pipe(latents, cond, step=predictor_corrector)
    assert pipe.net.calls == [2] * 10


def test_concurrent_calls_on_one_pipeline_match_sequential_calls():
    pipe = make_pipeline()
    original_forward = pipe.net.forward

    def slow_forward(*args):
        time.sleep(0.002)
        return original_forward(*args)

    pipe.net.forward = slow_forward
    cases = [inputs(seed=seed) for seed in range(4)]
    sequential = [pipe(*case, num_inference_steps=8, guidance_scale=2.0) for case in cases]
    results: list[Any] = [None] * 4
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        results[i] = pipe(*cases[i], num_inference_steps=8, guidance_scale=2.0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, expected in zip(results, sequential):
        torch.testing.assert_close(got, expected)


def test_interrupt_in_one_thread_does_not_stop_another():
    pipe = make_pipeline()
    started = threading.Event()
    done = threading.Event()

    def interrupting(p, i, t, tensors):
        p._interrupt = True
        started.set()
        done.wait(5)
        return {}

    first = threading.Thread(
        target=lambda: pipe(*inputs(), num_inference_steps=4, callback_on_step_end=interrupting)
    )
    first.start()
    started.wait(5)
    seen: list[int] = []
    pipe(*inputs(), num_inference_steps=4, callback_on_step_end=lambda p, i, t, s: seen.append(i))
    done.set()
    first.join()
    assert seen == [0, 1, 2, 3]


def test_strength_starts_part_way_and_sets_the_begin_index():
    scheduler = ToyScheduler()
    run = kernel.schedule(scheduler, 10, strength=0.3)
    assert run.num_inference_steps == 3
    torch.testing.assert_close(run.timesteps, torch.linspace(99, 0, 10).long()[7:])
    assert run.scheduler.begin_index == 7
    assert scheduler.begin_index is None
    torch.testing.assert_close(run.first_timestep, run.timesteps[:1])
    with pytest.raises(ValueError, match=r"strength: expected a value in \[0, 1\], found 1.5"):
        kernel.schedule(scheduler, 10, strength=1.5)


def test_custom_timesteps_need_a_scheduler_that_takes_them():
    with pytest.raises(ValueError, match=r"timesteps=: ToyScheduler.set_timesteps does not take"):
        kernel.schedule(ToyScheduler(), None, timesteps=[90, 50, 10])


def test_progress_bar_counts_steps_and_follows_the_pipeline_config(capsys):
    pipe = make_pipeline()
    pipe.set_progress_bar_config(disable=False, desc="denoising", ascii=True, ncols=60)
    pipe(*inputs(), num_inference_steps=3)
    err = capsys.readouterr().err
    assert "denoising" in err and "3/3" in err
    pipe.set_progress_bar_config(disable=True)
    pipe(*inputs(), num_inference_steps=3)
    assert capsys.readouterr().err == ""


STEP_RECORDER = """
from diffusekit.hooks import hookimpl

CALLS = []

@hookimpl
def diffusekit_step_end(pipeline, step_index, timestep, latents):
    CALLS.append((step_index, tuple(latents.shape)))
"""


def test_step_hook_plugin_is_called_once_per_step(fake_distribution):
    fake_distribution(
        "step-recorder",
        entry_points={"diffusekit.plugins": {"step-recorder": "step_recorder"}},
        modules={"step_recorder.py": STEP_RECORDER},
    )
    pipe = make_pipeline()
    pipe(*inputs(), num_inference_steps=4)
    import step_recorder

    assert [(i, (2, 3, 4, 4)) for i in range(4)] == step_recorder.CALLS


def test_per_call_properties_follow_the_running_call():
    pipe = make_pipeline()
    seen: list[tuple[int, float, bool]] = []

    def record(p, i, t, tensors):
        seen.append((p.num_timesteps, p.guidance_scale, p.do_classifier_free_guidance))
        return {}

    pipe(*inputs(), num_inference_steps=2, guidance_scale=3.0, callback_on_step_end=record)
    assert seen == [(2, 3.0, True), (2, 3.0, True)]


def test_a_run_without_steps_is_refused():
    with pytest.raises(ValueError, match=r"num_inference_steps: expected a positive number"):
        kernel.schedule(ToyScheduler(), 0)
    with pytest.raises(ValueError, match=r"strength: 0.05 x num_inference_steps 10 leaves no step"):
        kernel.schedule(ToyScheduler(), 10, strength=0.05)


def test_callback_names_can_be_checked_before_a_call():
    kernel.check_callback_inputs(make_pipeline(), ["latents", "cond"])
    with pytest.raises(ValueError, match=r"\['noise'\]"):
        kernel.check_callback_inputs(make_pipeline(), ["noise"])
