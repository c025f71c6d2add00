"""Safe Latent Diffusion guidance (Schramowski et al. 2023, "Safe Latent Diffusion: Mitigating
Inappropriate Degeneration in Diffusion Models"), a guidance object for `diffusekit.kernel`.

Each step the model sees three copies of the latents: unconditional, conditioned on the prompt,
and conditioned on a safety concept (text describing what to keep out). With ε_u, ε_p, ε_S the
three predictions, classifier-free guidance ε_u + s_g (ε_p - ε_u) gets a safety term subtracted
inside the guidance (eq. 3 and 5-7 of the paper):

    μ   = clamp(s_S |ε_p - ε_S|, max=1)  where ε_p - ε_S < λ, else 0   (element-wise)
    γ_t = μ (ε_S - ε_u) + s_m ν_t                                       (safety term)
    ν_{t+1} = β_m ν_t + (1 - β_m) γ_t                                   (momentum, ν_0 = 0)
    ε̃   = ε_u + s_g (ε_p - ε_u - γ_t)   from step `warmup_steps` on

with s_S = `sld_guidance_scale`, λ = `sld_threshold`, s_m = `sld_momentum_scale`,
β_m = `sld_mom_beta`. The momentum builds up during the warm-up steps too.

The momentum is per-call state: a pipeline makes a new `SafeLatentGuidance` for every call,
so calls on one pipeline, also from several threads, never share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from diffusekit import kernel


@dataclass(frozen=True)
class SafetyConfig:
    """The paper's hyper-parameter sets, as keyword arguments for the Safe pipeline's call:
    ``pipe(prompt, **SafetyConfig.MEDIUM)``. The pipeline's defaults are `MEDIUM`."""

    WEAK: ClassVar[dict[str, float]] = {
        "sld_warmup_steps": 15,
        "sld_guidance_scale": 20,
        "sld_threshold": 0.0,
        "sld_momentum_scale": 0.0,
        "sld_mom_beta": 0.0,
    }
    MEDIUM: ClassVar[dict[str, float]] = {
        "sld_warmup_steps": 10,
        "sld_guidance_scale": 1000,
        "sld_threshold": 0.01,
        "sld_momentum_scale": 0.3,
        "sld_mom_beta": 0.4,
    }
    STRONG: ClassVar[dict[str, float]] = {
        "sld_warmup_steps": 7,
        "sld_guidance_scale": 2000,
        "sld_threshold": 0.025,
        "sld_momentum_scale": 0.5,
        "sld_mom_beta": 0.7,
    }
    MAX: ClassVar[dict[str, float]] = {
        "sld_warmup_steps": 0,
        "sld_guidance_scale": 5000,
        "sld_threshold": 1.0,
        "sld_momentum_scale": 0.5,
        "sld_mom_beta": 0.7,
    }


@dataclass
class SafeLatentGuidance:
    """Classifier-free guidance with the safety term of Safe Latent Diffusion.

    `scale` is the classifier-free guidance scale (off at <= 1, and then safety guidance is
    off too); safety guidance is on when also `sld_guidance_scale` > 1. `concept_embeds` are
    the safety concept's text embeddings, one row per generated image. Pass `step` to
    `kernel.denoise` so the guidance knows the step index for the warm-up.
    """

    scale: float
    concept_embeds: torch.Tensor | None = None
    sld_guidance_scale: float = 1000.0
    sld_warmup_steps: int = 10
    sld_threshold: float = 0.01
    sld_momentum_scale: float = 0.3
    sld_mom_beta: float = 0.4
    step_index: int = field(default=0, init=False)
    momentum: torch.Tensor | None = field(default=None, init=False)

    @property
    def enabled(self) -> bool:
        return self.scale > 1.0

    @property
    def safety_enabled(self) -> bool:
        return self.enabled and self.sld_guidance_scale > 1.0

    @property
    def branches(self) -> int:
        """How many copies of the latents the model sees per step."""
        return 3 if self.safety_enabled else 2 if self.enabled else 1

    def conditioning(self, negative: Any, positive: Any) -> Any:
        """Batch the text conditioning as `model_input` batches the latents."""
        if not self.enabled:
            return positive
        if not self.safety_enabled:
            return torch.cat([negative, positive])
        if self.concept_embeds is None:
            raise ValueError("concept_embeds: safety guidance is on but no concept was encoded")
        return torch.cat([negative, positive, self.concept_embeds])

    def model_input(self, latents: torch.Tensor) -> torch.Tensor:
        return latents if self.branches == 1 else torch.cat([latents] * self.branches)

    def combine(self, output: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return output
        unconditional, conditional, *concept = output.chunk(self.branches)
        guidance = conditional - unconditional
        if concept:
            safety = self._safety_term(unconditional, conditional, concept[0])
            if self.step_index >= self.sld_warmup_steps:
                guidance = guidance - safety
        return unconditional + self.scale * guidance

    def _safety_term(
        self, unconditional: torch.Tensor, conditional: torch.Tensor, concept: torch.Tensor
    ) -> torch.Tensor:
        """γ_t, and the momentum for the next step."""
        if self.momentum is None:
            self.momentum = torch.zeros_like(unconditional)
        difference = conditional - concept
        mu = torch.clamp(difference.abs() * self.sld_guidance_scale, max=1.0)
        mu = torch.where(difference >= self.sld_threshold, torch.zeros_like(mu), mu)
        safety = (concept - unconditional) * mu + self.sld_momentum_scale * self.momentum
        beta = self.sld_mom_beta
        self.momentum = beta * self.momentum + (1 - beta) * safety
        return safety

    def step(
        self, ctx: kernel.StepContext, index: int, t: torch.Tensor, latents: torch.Tensor
    ) -> torch.Tensor:
        """The kernel's usual step, after noting which step this is."""
        self.step_index = index
        return kernel.scheduler_step(ctx, index, t, latents)
