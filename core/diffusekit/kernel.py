"""The denoising loop, written once for every pipeline.

A pipeline's ``__call__`` prepares its conditioning and initial latents, then::

    run = kernel.schedule(self.scheduler, num_inference_steps, device)   # a per-call copy
    latents = latents * run.scheduler.init_noise_sigma
    guidance = kernel.ClassifierFreeGuidance(guidance_scale, guidance_rescale)
    state = {"latents": latents, "prompt_embeds": guidance.conditioning(negative, positive)}
    latents = kernel.denoise(
        self, run, state,
        denoiser=lambda x, t, s: self.unet(x, t, encoder_hidden_states=s["prompt_embeds"]).sample,
        guidance=guidance,
        step_options={"generator": generator, "eta": eta},
        callback_on_step_end=callback_on_step_end,
        callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
    )

The loop owns inference mode, `scale_model_input`, guidance batching, `scheduler.step` with
only the options the scheduler declares, per-step transforms, callbacks, the step hook,
interruption and the progress bar. `schedule` forks the pipeline's scheduler, so a call never
changes it and concurrent calls on one pipeline do not interfere.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch

from . import _hook_manager

if TYPE_CHECKING:
    from .pipeline import DiffusionPipeline

Scheduler = Any  # any scheduler: set_timesteps, timesteps, scale_model_input, step, order

State = dict[str, Any]
Denoiser = Callable[[torch.Tensor, torch.Tensor, State], torch.Tensor]
StepTransform = Callable[["StepContext", int, torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[Any, int, torch.Tensor, dict[str, Any]], Mapping[str, Any] | None]


# -------------------------------------------------------------------------------- schedule


@dataclass
class Schedule:
    """The timesteps of one call and the scheduler copy that owns their state."""

    scheduler: Scheduler
    timesteps: torch.Tensor
    num_inference_steps: int
    order: int = 1
    """Timesteps per counted step (the scheduler's `order`). A custom `step` that makes a
    whole higher-order step per timestep sets it to 1, so the progress bar counts right."""

    @property
    def num_warmup_steps(self) -> int:
        return max(len(self.timesteps) - self.num_inference_steps * self.order, 0)

    @property
    def first_timestep(self) -> torch.Tensor:
        """The noisiest timestep of the run, repeated for image-to-image noising."""
        return self.timesteps[:1]


def schedule(
    scheduler: Scheduler,
    num_inference_steps: int | None,
    device: torch.device | str | None = None,
    *,
    timesteps: Sequence[int] | None = None,
    sigmas: Sequence[float] | None = None,
    strength: float | None = None,
) -> Schedule:
    """Fork `scheduler` and set its timesteps for one call.

    `timesteps` or `sigmas` give a custom schedule (only to schedulers whose `set_timesteps`
    takes them). `strength` < 1 starts the run part-way, as image-to-image does: only the
    last ``int(num_inference_steps * strength)`` steps run.
    """
    if not custom_given(timesteps, sigmas) and (num_inference_steps or 0) < 1:
        raise ValueError(
            f"num_inference_steps: expected a positive number of steps, found {num_inference_steps}"
        )
    run = scheduler.fork()
    custom = {"timesteps": timesteps, "sigmas": sigmas}
    custom = {name: value for name, value in custom.items() if value is not None}
    _check_custom_schedule(run, custom)
    if custom:
        run.set_timesteps(device=device, **custom)
    else:
        run.set_timesteps(num_inference_steps, device=device)
    steps: torch.Tensor = run.timesteps
    count = len(steps) // run.order if custom else int(num_inference_steps or len(steps))
    if strength is not None:
        steps, count = _start_part_way(run, steps, count, strength)
    return Schedule(run, steps, count, order=run.order)


def custom_given(timesteps: Any, sigmas: Any) -> bool:
    return timesteps is not None or sigmas is not None


def _check_custom_schedule(scheduler: Scheduler, custom: dict[str, Any]) -> None:
    if not custom:
        return
    accepted = inspect.signature(scheduler.set_timesteps).parameters
    for name in custom:
        if name not in accepted:
            raise ValueError(
                f"{name}=: {type(scheduler).__name__}.set_timesteps does not take custom "
                f"{name}; choose a scheduler that does or pass num_inference_steps"
            )


def _start_part_way(
    scheduler: Scheduler, steps: torch.Tensor, count: int, strength: float
) -> tuple[torch.Tensor, int]:
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength: expected a value in [0, 1], found {strength}")
    kept = min(int(count * strength), count)
    if kept < 1:
        raise ValueError(
            f"strength: {strength} x num_inference_steps {count} leaves no step to run; "
            f"raise strength or num_inference_steps"
        )
    start = max(count - kept, 0)
    begin = start * scheduler.order
    set_begin_index = getattr(scheduler, "set_begin_index", None)
    if callable(set_begin_index):
        set_begin_index(begin)
    return steps[begin:], count - start


# -------------------------------------------------------------------------------- guidance


class Guidance(Protocol):
    """How model outputs for one step are combined; ClassifierFreeGuidance is the usual one."""

    enabled: bool

    def model_input(self, latents: torch.Tensor) -> torch.Tensor: ...

    def combine(self, output: torch.Tensor) -> torch.Tensor: ...


@dataclass
class NoGuidance:
    """One model call per step, output used as is. `scale` is only reported (as
    `pipe.guidance_scale`), for models that take the guidance scale as an input instead."""

    enabled: bool = False
    scale: float = 1.0

    def model_input(self, latents: torch.Tensor) -> torch.Tensor:
        return latents

    def combine(self, output: torch.Tensor) -> torch.Tensor:
        return output

    def conditioning(self, negative: Any, positive: Any) -> Any:
        return positive


@dataclass
class ClassifierFreeGuidance:
    """Classifier-free guidance (Ho & Salimans, 2022) with optional rescaling.

    Unconditional and conditional inputs go through the model in one batch (unconditional
    first). `rescale` > 0 applies the std-matching rescale of Lin et al. 2023 ("Common
    Diffusion Noise Schedules and Sample Steps are Flawed", eq. 15-16). Off when
    `scale` <= 1, in which case the model sees the conditional batch only.
    """

    scale: float = 7.5
    rescale: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.scale > 1.0

    def conditioning(self, negative: Any, positive: Any) -> Any:
        """Batch the conditioning the way `model_input` batches latents."""
        if not self.enabled:
            return positive
        return torch.cat([negative, positive])

    def model_input(self, latents: torch.Tensor) -> torch.Tensor:
        return torch.cat([latents, latents]) if self.enabled else latents

    def combine(self, output: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return output
        unconditional, conditional = output.chunk(2)
        guided = unconditional + self.scale * (conditional - unconditional)
        if self.rescale > 0.0:
            guided = rescale_guided(guided, conditional, self.rescale)
        return guided


def rescale_guided(guided: torch.Tensor, conditional: torch.Tensor, rescale: float) -> torch.Tensor:
    """Match the guided output's per-sample std to the conditional one, blended by `rescale`."""
    dims = list(range(1, conditional.ndim))
    std_conditional = conditional.std(dim=dims, keepdim=True)
    std_guided = guided.std(dim=dims, keepdim=True)
    rescaled = guided * (std_conditional / std_guided)
    return rescale * rescaled + (1.0 - rescale) * guided


# ------------------------------------------------------------------------------------ loop


@dataclass
class StepContext:
    """What a step function or a transform sees: the run, the state and a model call."""

    pipeline: Any
    run: Schedule
    state: State
    denoiser: Denoiser
    guidance: Guidance
    step_kwargs: dict[str, Any] = field(default_factory=dict)
    model_dtype: torch.dtype | None = None

    @property
    def scheduler(self) -> Scheduler:
        return self.run.scheduler

    def predict(self, latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """One guided model evaluation at `t` for `latents` (scaled for the scheduler)."""
        model_input = self.scheduler.scale_model_input(self.guidance.model_input(latents), t)
        if self.model_dtype is not None and model_input.dtype != self.model_dtype:
            model_input = model_input.to(self.model_dtype)
        return self.guidance.combine(self.denoiser(model_input, t, self.state))


def scheduler_step(ctx: StepContext, index: int, t: torch.Tensor, latents: torch.Tensor) -> Any:
    """The usual step: one guided prediction, then `scheduler.step`."""
    output = ctx.predict(latents, t)
    result = ctx.scheduler.step(output, t, latents, **ctx.step_kwargs)
    prev = result.prev_sample if hasattr(result, "prev_sample") else result[0]
    return prev.to(latents.dtype) if prev.dtype != latents.dtype else prev


def denoise(
    pipeline: DiffusionPipeline,
    run: Schedule,
    state: State,
    *,
    denoiser: Denoiser,
    guidance: Guidance | None = None,
    step_options: Mapping[str, Any] | None = None,
    step: StepTransform = scheduler_step,
    transforms: Sequence[StepTransform] = (),
    callback_on_step_end: Callback | None = None,
    callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",),
    model_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Run the loop over `run.timesteps` and return the final latents.

    `state` holds the loop's named tensors (``"latents"`` and what the denoiser reads, such
    as ``"prompt_embeds"``); callbacks see and replace entries of it. `step` makes one step
    (the default calls the model once and `scheduler.step`; predictor-corrector samplers pass
    their own). Each of `transforms` runs after the step and may change the latents
    (inpainting's mask blending). `step_options` holds what ``scheduler.step`` may take
    (``generator``, ``eta``, ...): each scheduler gets only those it declares.
    """
    if callback_on_step_end is not None:
        check_callback_inputs(pipeline, callback_on_step_end_tensor_inputs)
    ctx = StepContext(
        pipeline=pipeline,
        run=run,
        state=state,
        denoiser=denoiser,
        guidance=guidance if guidance is not None else NoGuidance(),
        step_kwargs=_accepted_step_options(run.scheduler, step_options or {}),
        model_dtype=model_dtype,
    )
    _begin_call(pipeline, run, ctx.guidance)
    with torch.inference_mode():
        _loop(ctx, step, transforms, callback_on_step_end, callback_on_step_end_tensor_inputs)
    return state["latents"]


def _loop(
    ctx: StepContext,
    step: StepTransform,
    transforms: Sequence[StepTransform],
    callback: Callback | None,
    tensor_inputs: Sequence[str],
) -> None:
    pipeline, run, state = ctx.pipeline, ctx.run, ctx.state
    notify_steps = _step_hook_active()
    total = len(run.timesteps)
    warmup, order = run.num_warmup_steps, run.order
    with pipeline.progress_bar(total=run.num_inference_steps) as bar:
        for index, t in enumerate(run.timesteps):
            if pipeline.interrupt:
                break
            latents = step(ctx, index, t, state["latents"])
            for transform in transforms:
                latents = transform(ctx, index, t, latents)
            state["latents"] = latents
            if callback is not None:
                _run_callback(pipeline, callback, index, t, state, tensor_inputs)
            if notify_steps:
                _hook_manager.notify(
                    "diffusekit_step_end",
                    pipeline=pipeline,
                    step_index=index,
                    timestep=t,
                    latents=state["latents"],
                )
            if index == total - 1 or (index + 1 > warmup and (index + 1) % order == 0):
                bar.update()


def _begin_call(pipeline: Any, run: Schedule, guidance: Guidance) -> None:
    call = getattr(pipeline, "_call", None)
    if call is None:
        return
    call.interrupt = False
    call.num_timesteps = len(run.timesteps)
    call.guidance_scale = float(getattr(guidance, "scale", 1.0))


def _accepted_step_options(scheduler: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    accepted: frozenset[str] = getattr(type(scheduler), "step_options", frozenset())
    return {name: value for name, value in options.items() if name in accepted}


def _step_hook_active() -> bool:
    if not _hook_manager.has_plugins():
        return False
    return bool(_hook_manager.plugin_manager().hook.diffusekit_step_end.get_hookimpls())


def check_callback_inputs(pipeline: Any, names: Sequence[str] | None) -> None:
    """Refuse callback tensor names the pipeline does not pass (its `_callback_tensor_inputs`).

    `denoise` checks this itself; pipelines call it up front to fail before encoding anything.
    """
    allowed = list(getattr(pipeline, "_callback_tensor_inputs", ["latents"]))
    unknown = [name for name in names or () if name not in allowed]
    if unknown:
        raise ValueError(
            f"callback_on_step_end_tensor_inputs: {unknown} are not tensors "
            f"{type(pipeline).__name__} passes to callbacks; choose from {allowed}"
        )


def _run_callback(
    pipeline: Any,
    callback: Callback,
    index: int,
    t: torch.Tensor,
    state: State,
    names: Sequence[str],
) -> None:
    inputs = {name: state[name] for name in names if name in state}
    returned = callback(pipeline, index, t, inputs)
    if returned:
        state.update(returned)
