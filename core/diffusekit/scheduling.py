"""The scheduler base class: config I/O, compatibility, and the per-call state contract."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from . import hub, hub_upload
from .config import BaseConfig, ConfigMixin
from .outputs import BaseOutput

if TYPE_CHECKING:
    import torch

S = TypeVar("S", bound="SchedulerMixin")


class SchedulerConfig(BaseConfig):
    """Fields every noise scheduler has."""

    num_train_timesteps: int = 1000


@dataclass
class SchedulerOutput(BaseOutput):
    """What `step` returns: the sample for the previous timestep and, where known, x0."""

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor | None = None


class SchedulerMixin(ConfigMixin):
    """Base of every scheduler.

    A scheduler declares what it is and what it accepts instead of being inspected:

    - `compatibility_families`: names of the families it can swap with (schedulers that share
      a family read each other's configs through `from_config`). The reference's interchangeable
      schedulers all use ``"discrete-betas"``.
    - `step_options`: the keyword arguments its `step` accepts beyond the model output, the
      timestep and the sample (for example ``{"generator", "eta"}``). The kernel passes only these.
    - `order`: model evaluations per step (2 for Heun); the progress bar counts with it.

    Per-call state: `set_timesteps` and `step` may keep state on the instance (timesteps, step
    counters, a history of model outputs), so the kernel never calls them on a pipeline's own
    scheduler. It calls `fork()` first and works on the copy. `fork()` must be cheap: the default
    copies the instance's attribute dictionary and any list or dict in it, and shares tensors,
    which schedulers therefore replace instead of mutating in place.
    """

    config_name: ClassVar[str] = "scheduler_config.json"
    config_class: ClassVar[type[BaseConfig]] = SchedulerConfig
    compatibility_families: ClassVar[tuple[str, ...]] = ()
    step_options: ClassVar[frozenset[str]] = frozenset()
    order: ClassVar[int] = 1

    def fork(self: S) -> S:
        """A copy whose `set_timesteps`/`step` calls never affect this instance."""
        clone = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, (list, dict)) and name != "_config":
                setattr(clone, name, copy.copy(value))
        return clone

    @classmethod
    def from_pretrained(
        cls: type[S],
        pretrained_model_name_or_path: str | os.PathLike[str],
        subfolder: str | None = None,
        **kwargs: Any,
    ) -> S:
        """Load `scheduler_config.json` from a folder or repo; other kwargs override fields."""
        options = hub.HubOptions.pop_from(kwargs)
        data = cls.load_config(pretrained_model_name_or_path, subfolder=subfolder, **vars(options))
        return cls._from_loaded_config(data, **kwargs)

    def save_pretrained(
        self, save_directory: str | os.PathLike[str], push_to_hub: bool = False, **kwargs: Any
    ) -> None:
        """Write ``scheduler_config.json``; with ``push_to_hub=True`` upload the folder too."""
        self.save_config(save_directory)
        if push_to_hub:
            message = "Upload scheduler"
            hub_upload.push_saved_folder(save_directory, kwargs, kind="scheduler", message=message)

    @classmethod
    def _keys_of_related_classes(cls) -> set[str]:
        keys: set[str] = set()
        for other in cls._compatible_classes():
            keys.update(other.config_class.model_fields)
        return keys

    @classmethod
    def _compatible_classes(cls) -> list[type[SchedulerMixin]]:
        if not cls.compatibility_families:
            return [cls]
        from . import registry
        from .errors import PluginError

        wanted = set(cls.compatibility_families)
        found: list[type[SchedulerMixin]] = [cls]
        for name in registry.component_names():
            library, _, class_name = name.rpartition(".")
            if not class_name.endswith("Scheduler"):
                continue
            try:
                other = registry.resolve(library, class_name)
            except PluginError:
                continue
            if (
                isinstance(other, type)
                and issubclass(other, SchedulerMixin)
                and other not in found
                and wanted & set(other.compatibility_families)
            ):
                found.append(other)
        return found

    @property
    def compatibles(self) -> list[type[SchedulerMixin]]:
        """Installed scheduler classes (any plugin's) that share a family with this one."""
        return self._compatible_classes()
