"""Map `<library>.<ClassName>` names to classes through entry points.

Resolution order: a programmatic `register()` wins, then a `diffusekit.resolve_component`
hook, then an exact `diffusekit.components` entry point, then the `diffusekit.libraries`
resolver of the library. Discovery reads installed metadata once per process (see
`refresh()`); resolving imports only the module that provides the name asked for.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import _providers
from ._discovery import COMPONENTS, LIBRARIES, PLUGINS, TASKS, Discovery, EntryPoint, discover
from ._settings import PluginSettings
from .errors import (
    MissingComponentError,
    PluginBlockedError,
    PluginConflictError,
    PluginError,
    PluginImportError,
    PluginKindError,
)

__all__ = [
    "COMPONENTS",
    "LIBRARIES",
    "PLUGINS",
    "TASKS",
    "Claim",
    "EntryPoint",
    "component_names",
    "discovery",
    "explain",
    "isolated",
    "list_entries",
    "load_entry",
    "name_of",
    "provider_of",
    "refresh",
    "register",
    "registered",
    "resolve",
    "select",
    "unregister",
]

Target = type | str


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.discovery: Discovery | None = None
        self.registrations: dict[str, Target] = {}
        self.loaded: dict[tuple[str, str], Any] = {}


_state = _State()


def _key(library: str, class_name: str) -> str:
    return f"{library}.{class_name}"


def discovery() -> Discovery:
    """The memoised scan of installed metadata (no plugin is imported)."""
    found = _state.discovery
    if found is None:
        with _state.lock:
            if _state.discovery is None:
                _state.discovery = discover(PluginSettings.from_environ())
            found = _state.discovery
    return found


def refresh() -> None:
    """Forget what was discovered and loaded; the next lookup rescans metadata."""
    with _state.lock:
        _state.discovery = None
        _state.loaded.clear()
    from . import _hook_manager

    _hook_manager.reset()


# ----------------------------------------------------------------------------- registration


def register(library: str, class_name: str, target: Target, *, replace: bool = False) -> None:
    """Provide `library.class_name` from code: a class, or a lazy ``"module:attr"`` string.

    A registration beats every entry point. Registering a name twice needs ``replace=True``.
    """
    if not isinstance(target, (type, str)):
        raise TypeError(
            f"register({library!r}, {class_name!r}, ...): expected a class or a 'module:attr' "
            f"string, found {type(target).__name__}"
        )
    if isinstance(target, str) and ":" not in target:
        raise ValueError(f"register(...): expected 'module:attr', found {target!r}")
    key = _key(library, class_name)
    with _state.lock:
        if key in _state.registrations and not replace:
            raise ValueError(f"'{key}' is already registered; pass replace=True to replace it")
        _state.registrations[key] = target


def unregister(library: str, class_name: str) -> None:
    with _state.lock:
        _state.registrations.pop(_key(library, class_name), None)


@contextmanager
def registered(library: str, class_name: str, target: Target) -> Iterator[None]:
    """Register `target` for the duration of a ``with`` block, then restore what was there."""
    key = _key(library, class_name)
    with _state.lock:
        previous = _state.registrations.get(key)
        _state.registrations[key] = target
    try:
        yield
    finally:
        with _state.lock:
            if previous is None:
                _state.registrations.pop(key, None)
            else:
                _state.registrations[key] = previous


@contextmanager
def isolated() -> Iterator[None]:
    """Run a block with its own registrations and a fresh discovery; restore both after."""
    with _state.lock:
        saved = dict(_state.registrations)
    refresh()
    try:
        yield
    finally:
        with _state.lock:
            _state.registrations.clear()
            _state.registrations.update(saved)
        refresh()


# ---------------------------------------------------------------------------------- lookup


def select(group: str, name: str) -> EntryPoint | None:
    """The entry point that serves `name` in `group`, after blocking and preferences.

    Raises `PluginConflictError` when distributions disagree and the user picked none, and
    `PluginBlockedError` when every claimant is disabled.
    """
    found = discovery()
    claims = found.claims(group, name)
    if not claims:
        return None
    usable = [entry for entry in claims if not found.is_blocked(entry.dist)]
    if not usable:
        dists = "; ".join(
            f"{entry.dist}: {found.settings.why_blocked(entry.dist.key)}" for entry in claims
        )
        raise PluginBlockedError(
            f"'{name}' is provided only by disabled distributions; to use it: {dists}"
        )
    preferred = found.settings.prefer.get(name)
    if preferred is not None:
        picked = [entry for entry in usable if entry.dist.key == preferred]
        if picked:
            return picked[0]
    if len(usable) > 1:
        claimants = "; ".join(f"{e.dist} -> {e.value} (in {e.dist.location})" for e in usable)
        first = usable[0].dist.name
        raise PluginConflictError(
            f"'{name}' ({group}) is claimed by {len(usable)} distributions: {claimants}. "
            f"Uninstall one, or choose with DIFFUSEKIT_PREFER='{name}={first}'"
        )
    return usable[0]


def _import_object(module: str, attr: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def load_entry(entry: EntryPoint) -> Any:
    """Import the object an entry point names, blaming its distribution if that fails."""
    try:
        obj = _import_object(entry.module, entry.attr)
    except Exception as exc:
        raise PluginImportError(
            f"plugin distribution {entry.dist} failed to provide '{entry.name}' "
            f"({entry.group} = {entry.value}): {type(exc).__name__}: {exc}"
        ) from exc
    _check_kind(entry.group, entry.name, obj, f"distribution {entry.dist} ({entry.value})")
    return obj


def _check_kind(group: str, name: str, obj: Any, origin: str) -> None:
    expected = {
        COMPONENTS: (lambda o: isinstance(o, type), "a class"),
        TASKS: (lambda o: isinstance(o, type), "a pipeline class"),
        LIBRARIES: (callable, "a resolve(class_name) function"),
        PLUGINS: (lambda o: not isinstance(o, type), "a module or object of hook functions"),
    }.get(group)
    if expected is not None and not expected[0](obj):
        raise PluginKindError(
            f"'{name}' from {origin}: expected {expected[1]}, found {type(obj).__name__} {obj!r}"
        )


def _load_target(key: str, target: Target) -> type:
    if isinstance(target, type):
        return target
    module, _, attr = target.partition(":")
    try:
        obj = _import_object(module, attr)
    except Exception as exc:
        raise PluginImportError(
            f"registered target for '{key}' ({target}) failed to load: {exc}"
        ) from exc
    _check_kind(COMPONENTS, key, obj, f"register() target {target}")
    return obj


def resolve(library: str, class_name: str, *, requested_by: str | None = None) -> type:
    """Return the class that serves `library.class_name`.

    `requested_by` says who asked (a checkpoint file and component), for error messages.
    """
    key = _key(library, class_name)
    target = _state.registrations.get(key)
    if target is not None:
        return _load_target(key, target)
    cached = _state.loaded.get((library, class_name))
    if cached is not None:
        return cached
    cls = _resolve_uncached(library, class_name)
    if cls is None:
        raise _missing(library, class_name, requested_by)
    with _state.lock:
        _state.loaded[(library, class_name)] = cls
    return cls


def _resolve_uncached(library: str, class_name: str) -> type | None:
    found = discovery()
    if found.entries.get(PLUGINS):
        from . import _hook_manager

        override = _hook_manager.resolve_override(library, class_name)
        if override is not None:
            _check_kind(COMPONENTS, _key(library, class_name), override, "a resolve hook")
            return override
    entry = select(COMPONENTS, _key(library, class_name))
    if entry is not None:
        return load_entry(entry)
    resolver_entry = select(LIBRARIES, library)
    if resolver_entry is None:
        return None
    resolver: Callable[[str], type | None] = load_entry(resolver_entry)
    try:
        cls = resolver(class_name)
    except Exception as exc:
        raise PluginImportError(
            f"the resolver for library '{library}' from {resolver_entry.dist} failed on "
            f"'{class_name}': {type(exc).__name__}: {exc}"
        ) from exc
    if cls is not None:
        _check_kind(
            COMPONENTS, _key(library, class_name), cls, f"library resolver {resolver_entry.dist}"
        )
    return cls


def name_of(cls: type) -> tuple[str, str]:
    """The ``(library, ClassName)`` pair a checkpoint should record for `cls`.

    Looks at the libraries `cls` was already resolved from (a library resolver may serve a
    legacy alias; the class's own name is recorded), at programmatic registrations, and at
    component entry points whose target is `cls` (metadata only, nothing imported).
    Library ``diffusers`` wins when several apply, since that is what reference checkpoints
    name. A class nobody declares is recorded under its top-level package, as the reference does.
    """
    target = f"{cls.__module__}:{cls.__qualname__}"
    keys = [f"{lib}.{cls.__name__}" for (lib, _), loaded in _state.loaded.items() if loaded is cls]
    keys += [key for key, value in _state.registrations.items() if value in (cls, target)]
    for key, claims in discovery().entries.get(COMPONENTS, {}).items():
        if any(_names_class(entry, cls) for entry in claims):
            keys.append(key)
    pairs = [key.rpartition(".")[::2] for key in keys]
    if pairs:
        pairs.sort(key=lambda p: (p[0] != "diffusers", p[1] != cls.__name__, p))
        return pairs[0][0], pairs[0][1]
    return cls.__module__.partition(".")[0], cls.__name__


def provider_of(cls: type) -> tuple[str, str] | None:
    """The ``(distribution, version)`` that provides `cls`, from installed metadata only.

    First a diffusekit entry point naming `cls` (any group); else the distribution that ships
    the top-level package of `cls` (a class a library resolver serves, such as a transformers
    model); None for classes no installed distribution ships (defined in a script or a test).
    """
    for names in discovery().entries.values():
        for claims in names.values():
            for entry in claims:
                if _names_class(entry, cls):
                    return entry.dist.name, entry.dist.version
    return _package_provider(cls.__module__.partition(".")[0])


@functools.lru_cache(maxsize=1)
def _packages() -> Mapping[str, list[str]]:
    from importlib import metadata

    return metadata.packages_distributions()


def _package_provider(package: str) -> tuple[str, str] | None:
    from importlib import metadata

    names = _packages().get(package, [])
    if not names:
        return None
    try:
        dist = metadata.distribution(names[0])
    except metadata.PackageNotFoundError:
        return None
    return dist.metadata["Name"] or names[0], dist.version


def _names_class(entry: EntryPoint, cls: type) -> bool:
    if entry.attr != cls.__qualname__:
        return False
    return cls.__module__ == entry.module or cls.__module__.startswith(entry.module + ".")


def component_names() -> list[str]:
    """Every `<library>.<ClassName>` that is registered or declared by an entry point."""
    names = set(discovery().entries.get(COMPONENTS, {})) | set(_state.registrations)
    return sorted(names)


def _missing(library: str, class_name: str, requested_by: str | None) -> MissingComponentError:
    key = _key(library, class_name)
    matches = difflib.get_close_matches(key, component_names(), n=3, cutoff=0.6)
    return MissingComponentError(
        library,
        class_name,
        requested_by=requested_by,
        install_hint=None
        if _has_resolver(library)
        else _providers.install_hint(library, class_name),
        close_matches=tuple(matches),
    )


def _has_resolver(library: str) -> bool:
    """An installed resolver for `library` already had its say: suggesting it would mislead."""
    try:
        return select(LIBRARIES, library) is not None
    except PluginError:
        return True


# --------------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class Claim:
    """One row of `diffusekit plugins list`: a name, who claims it, and its status."""

    group: str
    name: str
    target: str
    distribution: str
    version: str
    status: str  # ok | blocked | conflict | preferred | overridden | registered

    def as_dict(self) -> dict[str, str]:
        return {
            "group": self.group,
            "name": self.name,
            "target": self.target,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
        }


def _status(found: Discovery, entry: EntryPoint, claims: list[EntryPoint]) -> str:
    if found.is_blocked(entry.dist):
        return "blocked"
    if entry.group == COMPONENTS and entry.name in _state.registrations:
        return "overridden"
    usable = [c for c in claims if not found.is_blocked(c.dist)]
    if len(usable) < 2:
        return "ok"
    preferred = found.settings.prefer.get(entry.name)
    if preferred is not None and any(c.dist.key == preferred for c in usable):
        return "preferred" if entry.dist.key == preferred else "not-preferred"
    return "conflict"


def list_entries(group: str | None = None) -> list[Claim]:
    """Every claim in our groups, from metadata only, with its status."""
    found = discovery()
    rows: list[Claim] = []
    for group_name, names in sorted(found.entries.items()):
        if group is not None and group_name != group:
            continue
        for name, claims in sorted(names.items()):
            for entry in claims:
                rows.append(
                    Claim(
                        group_name,
                        name,
                        entry.value,
                        entry.dist.name,
                        entry.dist.version,
                        _status(found, entry, claims),
                    )
                )
    if group in (None, COMPONENTS):
        for key, target in sorted(_state.registrations.items()):
            shown = (
                target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
            )
            rows.append(Claim(COMPONENTS, key, shown, "<register()>", "", "registered"))
    return rows


@dataclass(frozen=True)
class Explanation:
    name: str
    claims: list[Claim]
    winner: str | None
    reason: str


def explain(name: str) -> Explanation:
    """Who claims `name` (a component `<library>.<Class>` or a library), who wins, and why."""
    found = discovery()
    group = (
        COMPONENTS
        if name in found.entries.get(COMPONENTS, {}) or name in _state.registrations
        else LIBRARIES
    )
    claims = [c for c in list_entries(group) if c.name == name]
    if name in _state.registrations:
        return Explanation(
            name, claims, "<register()>", "a programmatic register() beats every entry point"
        )
    if not claims:
        library, _, cls = name.rpartition(".")
        hint = _providers.install_hint(library, cls) if library else None
        reason = "no installed distribution claims it"
        if library and select(LIBRARIES, library) is not None:
            reason += f"; the resolver of library '{library}' will be asked"
        if hint:
            reason += f"; pip install {hint} would provide it"
        return Explanation(name, [], None, reason)
    try:
        entry = select(group, name)
    except (PluginConflictError, PluginBlockedError) as exc:
        return Explanation(name, claims, None, str(exc))
    assert entry is not None
    if len(claims) == 1:
        reason = "the only claimant"
    elif found.settings.prefer.get(name) == entry.dist.key:
        reason = "chosen by DIFFUSEKIT_PREFER"
    else:
        reason = "the only claimant that is not disabled"
    return Explanation(name, claims, f"{entry.dist} -> {entry.value}", reason)
