"""Tiny components and pipelines for the core's pipeline tests (no plugin, no reference).

`ToyModel` is a `ModelMixin` (config.json + safetensors), `ToyScheduler` a `SchedulerMixin`
(scheduler_config.json), `ToyTokenizer` a plain class whose loader takes no options at all.
`toy_registry()` makes them resolvable as ``diffusers.<Name>`` for the duration of a block,
which is how checkpoints written by `write_toy_checkpoint` name them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from diffusekit import registry
from diffusekit.config import BaseConfig
from diffusekit.modeling import ModelMixin
from diffusekit.pipeline import DiffusionPipeline
from diffusekit.scheduling import SchedulerConfig, SchedulerMixin


class ToyModelConfig(BaseConfig):
    width: int = 4
    depth: int = 1


class ToyModel(ModelMixin):
    """A stack of linear layers; records the attention slice size it was given."""

    config_class = ToyModelConfig

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        width = self.config.width
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(self.config.depth))
        self.attention_slice: Any = None
        self.calls = 0

    def set_attention_slice(self, slice_size: Any) -> None:
        self.attention_slice = slice_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        for layer in self.layers:
            x = layer(x)
        return x


class ToySafetyChecker(ToyModel):
    """Stands in for a checker a checkpoint names under a pipeline-module library."""


class ToySchedulerConfig(SchedulerConfig):
    beta_end: float = 0.02
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = "epsilon"


class ToyScheduler(SchedulerMixin):
    config_class = ToySchedulerConfig


class OtherToyScheduler(SchedulerMixin):
    config_class = ToySchedulerConfig


class ToyTokenizer:
    """A component that is not a torch module; its loader accepts no loading option."""

    file_name: ClassVar[str] = "vocab.json"

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = dict(vocab)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str]) -> ToyTokenizer:
        return cls(json.loads((Path(path) / cls.file_name).read_text()))

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / self.file_name).write_text(json.dumps(self.vocab))


class ToyRecorder:
    """A component whose loader names two options; remembers what each load was given."""

    seen: ClassVar[list[dict[str, Any]]] = []

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike[str], torch_dtype: Any = None, variant: str | None = None
    ) -> ToyRecorder:
        cls.seen.append({"torch_dtype": torch_dtype, "variant": variant})
        return cls()

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "recorder.json").write_text("{}")


class ToyPipeline(DiffusionPipeline):
    """unet + scheduler required; tokenizer and safety_checker declared optional;
    feature_extractor optional only by its default (not declared); one plain option."""

    _optional_components: ClassVar[list[str]] = ["tokenizer", "safety_checker"]

    def __init__(
        self,
        unet: ToyModel,
        scheduler: SchedulerMixin,
        tokenizer: ToyTokenizer | None = None,
        safety_checker: ToyModel | None = None,
        feature_extractor: ToyRecorder | None = None,
        requires_safety_checker: bool = True,
    ) -> None:
        super().__init__()
        self.register_modules(
            unet=unet,
            scheduler=scheduler,
            tokenizer=tokenizer,
            safety_checker=safety_checker,
            feature_extractor=feature_extractor,
        )
        self.register_to_config(requires_safety_checker=requires_safety_checker)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.unet(x.to(self._execution_device))


class ToyUnetOnlyPipeline(DiffusionPipeline):
    """A second pipeline class over a subset of ToyPipeline's components (for from_pipe)."""

    def __init__(self, unet: ToyModel, scheduler: SchedulerMixin, strength: float = 0.5) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)
        self.register_to_config(strength=strength)


TOY_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        ToyModel,
        ToyScheduler,
        OtherToyScheduler,
        ToyTokenizer,
        ToyRecorder,
        ToyPipeline,
        ToyUnetOnlyPipeline,
    )
}


@contextmanager
def toy_registry() -> Iterator[None]:
    """Resolve every toy class as ``diffusers.<Name>`` inside the block."""
    with ExitStack() as stack:
        for name, cls in TOY_CLASSES.items():
            stack.enter_context(registry.registered("diffusers", name, cls))
        yield


def make_toy_pipeline(seed: int = 0, *, with_tokenizer: bool = True) -> ToyPipeline:
    torch.manual_seed(seed)
    return ToyPipeline(
        unet=ToyModel(width=4, depth=2),
        scheduler=ToyScheduler(num_train_timesteps=10, beta_end=0.03),
        tokenizer=ToyTokenizer({"a": 0, "b": 1}) if with_tokenizer else None,
        safety_checker=None,
        requires_safety_checker=False,
    )


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key].to(sa[key].dtype)), key
