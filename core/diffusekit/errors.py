"""Exceptions and warnings raised by diffusekit.

Every error names what it is about (a file, a field, a component, a distribution), what was
expected and what was found. One class per kind of failure, so callers can catch precisely.
"""

from __future__ import annotations


class DiffusekitError(Exception):
    """Base class of every error diffusekit raises on purpose."""


class DiffusekitWarning(UserWarning):
    """Base class of every warning diffusekit emits."""


class PluginError(DiffusekitError):
    """A plugin distribution is missing, broken, blocked or in conflict with another."""


class MissingComponentError(PluginError, LookupError):
    """No installed plugin provides a `<library>.<ClassName>` that something asked for."""

    def __init__(
        self,
        library: str,
        class_name: str,
        *,
        requested_by: str | None = None,
        install_hint: str | None = None,
        close_matches: tuple[str, ...] = (),
    ) -> None:
        self.library = library
        self.class_name = class_name
        self.requested_by = requested_by
        self.install_hint = install_hint
        self.close_matches = close_matches
        lines = [f"no installed plugin provides '{library}.{class_name}'"]
        if requested_by:
            lines[0] += f" (asked for by {requested_by})"
        if install_hint:
            lines.append(f"  to get it: pip install {install_hint}")
        if close_matches:
            lines.append(f"  close matches among installed names: {', '.join(close_matches)}")
        super().__init__("\n".join(lines))


class PluginConflictError(PluginError):
    """Two different distributions claim the same entry-point name."""


class PluginImportError(PluginError, ImportError):
    """A plugin's module failed to import or does not hold the promised object."""


class PluginBlockedError(PluginError):
    """The only providers of a name are disabled by the user."""


class PluginKindError(PluginError, TypeError):
    """An entry point resolved to an object of the wrong kind (say, a function for a class)."""


class ConfigError(DiffusekitError, ValueError):
    """A configuration file or field is unreadable or invalid."""


class CheckpointError(DiffusekitError, OSError):
    """A checkpoint folder or weights file is missing, malformed or incomplete."""


class RemoteCodeError(DiffusekitError):
    """A checkpoint ships code and the user did not pass `trust_remote_code=True`."""
