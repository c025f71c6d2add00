"""The pluggy plugin manager, built on first use from ``diffusekit.plugins`` entry points.

Each hook module is imported in its own try/except: a broken one is reported with its
distribution and skipped, unless ``DIFFUSEKIT_STRICT_PLUGINS=1`` asks for the error.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .errors import DiffusekitWarning, PluginError

if TYPE_CHECKING:
    import pluggy

_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None
_in_code = 0


def reset() -> None:
    global _manager
    with _lock:
        _manager = None


def plugin_manager() -> pluggy.PluginManager:
    global _manager
    manager = _manager
    if manager is None:
        with _lock:
            if _manager is None:
                _manager = _build()
            manager = _manager
    return manager


def _build() -> pluggy.PluginManager:
    import pluggy

    from . import hooks, registry

    manager = pluggy.PluginManager(hooks.PROJECT)
    manager.add_hookspecs(hooks.DiffusekitHookSpec)
    found = registry.discovery()
    for name, claims in sorted(found.entries.get(registry.PLUGINS, {}).items()):
        for entry in claims:
            if found.is_blocked(entry.dist):
                continue
            try:
                module = registry.load_entry(entry)
                manager.register(module, name=f"{entry.dist.key}:{name}")
            except Exception as exc:
                if found.settings.strict:
                    raise PluginError(
                        f"hook plugin '{name}' from {entry.dist} failed to load: {exc}"
                    ) from exc
                warnings.warn(
                    f"diffusekit: hook plugin '{name}' from {entry.dist} was skipped: {exc}",
                    DiffusekitWarning,
                    stacklevel=2,
                )
    return manager


def has_plugins() -> bool:
    """Whether any hook implementation can exist: installed hook plugins or `registered` ones."""
    from . import registry

    return _in_code > 0 or bool(registry.discovery().entries.get(registry.PLUGINS))


@contextmanager
def registered(implementation: object) -> Iterator[None]:
    """Hook implementations `implementation` (an object with `hookimpl` methods) for the block.

    For callers inside the process (the CLI's loading bar), whether or not any hook plugin
    is installed.
    """
    global _in_code
    manager = plugin_manager()
    manager.register(implementation)
    with _lock:
        _in_code += 1
    try:
        yield
    finally:
        with _lock:
            _in_code -= 1
        manager.unregister(implementation)


def resolve_override(library: str, class_name: str) -> type | None:
    result: Any = plugin_manager().hook.diffusekit_resolve_component(
        library=library, class_name=class_name
    )
    return result


def notify(hook_name: str, **kwargs: Any) -> None:
    """Call a broadcast hook if any plugin implements it; free when none is installed."""
    if not has_plugins():
        return
    caller = getattr(plugin_manager().hook, hook_name)
    if caller.get_hookimpls():
        caller(**kwargs)


def load_options(library: str, component_class: type, options: dict[str, Any]) -> Any:
    """A library plugin's answer to "which options does this loader take", or None."""
    if not has_plugins():
        return None
    return plugin_manager().hook.diffusekit_load_options(
        library=library, component_class=component_class, options=options
    )


def load_component(library: str, component_class: type, path: str, options: dict[str, Any]) -> Any:
    """A plugin's own load of `component_class` from `path`, or None to use its loader."""
    if not has_plugins():
        return None
    return plugin_manager().hook.diffusekit_load_component(
        library=library, component_class=component_class, path=path, options=options
    )
