"""Helpers for testing diffusekit plugins: fake distributions and a plugin self-check.

The pytest plugin in `diffusekit.testing.pytest_plugin` (loaded automatically through the
``pytest11`` entry point) wraps these as fixtures: ``diffusekit_registry`` and
``fake_distribution``.
"""

from __future__ import annotations

from ._distributions import FakeDistribution, write_fake_distribution
from ._plugin_check import PluginCheck, assert_plugin_ok, check_distribution

__all__ = [
    "FakeDistribution",
    "PluginCheck",
    "assert_plugin_ok",
    "check_distribution",
    "write_fake_distribution",
]
