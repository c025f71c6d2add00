"""Hook plugins load lazily through fake distributions, each failure contained."""

from __future__ import annotations

import pytest

from diffusekit import _hook_manager, registry
from diffusekit.errors import DiffusekitWarning, PluginError
from diffusekit.hooks import hookimpl

PLUGINS = "diffusekit.plugins"

RECORDING_PLUGIN = """
from diffusekit.hooks import hookimpl

CALLS = []

@hookimpl
def diffusekit_step_end(pipeline, step_index, timestep, latents):
    CALLS.append(step_index)
"""


def test_step_hook_is_called_through_a_fake_distribution(fake_distribution):
    fake_distribution(
        "recorder-plugin",
        entry_points={PLUGINS: {"recorder": "recorder_plugin"}},
        modules={"recorder_plugin.py": RECORDING_PLUGIN},
    )
    for i in range(3):
        _hook_manager.notify(
            "diffusekit_step_end", pipeline=None, step_index=i, timestep=i, latents=None
        )
    import recorder_plugin

    assert recorder_plugin.CALLS == [0, 1, 2]


def test_broken_hook_module_is_skipped_with_a_warning(fake_distribution):
    fake_distribution(
        "good-hooks",
        entry_points={PLUGINS: {"good": "good_hooks"}},
        modules={"good_hooks.py": RECORDING_PLUGIN},
    )
    fake_distribution(
        "bad-hooks",
        version="0.3",
        entry_points={PLUGINS: {"bad": "bad_hooks"}},
        modules={"bad_hooks.py": "raise ImportError('missing dependency xyz')\n"},
    )
    with pytest.warns(DiffusekitWarning, match=r"bad-hooks 0.3.*missing dependency xyz"):
        _hook_manager.notify(
            "diffusekit_step_end", pipeline=None, step_index=7, timestep=7, latents=None
        )
    import good_hooks

    assert good_hooks.CALLS == [7]


def test_invalid_hook_implementation_is_named(fake_distribution):
    fake_distribution(
        "typo-hooks",
        entry_points={PLUGINS: {"typo": "typo_hooks"}},
        modules={
            "typo_hooks.py": """
            from diffusekit.hooks import hookimpl

            @hookimpl
            def diffusekit_step_end(pipeline, step_idx):
                pass
            """
        },
    )
    with pytest.warns(DiffusekitWarning, match=r"(?s)typo-hooks.*step_idx"):
        _hook_manager.plugin_manager()


def test_strict_mode_reraises(fake_distribution, monkeypatch):
    fake_distribution(
        "strict-bad",
        entry_points={PLUGINS: {"bad": "strict_bad"}},
        modules={"strict_bad.py": "raise RuntimeError('nope')\n"},
    )
    monkeypatch.setenv("DIFFUSEKIT_STRICT_PLUGINS", "1")
    registry.refresh()
    with pytest.raises(PluginError, match="strict-bad") as info:
        _hook_manager.plugin_manager()
    assert "nope" in str(info.value.__cause__)


def test_resolve_hook_overrides_entry_points(fake_distribution):
    fake_distribution(
        "plain-provider",
        entry_points={"diffusekit.components": {"toylib.Hooked": "plain_provider:Hooked"}},
        modules={"plain_provider.py": "class Hooked:\n    origin = 'entry'\n"},
    )
    fake_distribution(
        "override-hooks",
        entry_points={PLUGINS: {"override": "override_hooks"}},
        modules={
            "override_hooks.py": """
            from diffusekit.hooks import hookimpl

            class Replacement:
                origin = "hook"

            @hookimpl
            def diffusekit_resolve_component(library, class_name):
                return Replacement if class_name == "Hooked" else None
            """
        },
    )
    assert registry.resolve("toylib", "Hooked").origin == "hook"


def test_no_hook_plugins_means_no_pluggy_work(diffusekit_registry, monkeypatch):
    monkeypatch.setattr(_hook_manager, "plugin_manager", lambda: pytest.fail("manager built"))
    if not _hook_manager.has_plugins():
        _hook_manager.notify(
            "diffusekit_step_end", pipeline=None, step_index=0, timestep=0, latents=None
        )


def test_implementations_registered_in_code_fire_without_hook_plugins(
    diffusekit_registry, monkeypatch
):
    monkeypatch.setitem(registry.discovery().entries, registry.PLUGINS, {})
    assert not _hook_manager.has_plugins()
    seen: list[str] = []

    class Listener:
        @hookimpl
        def diffusekit_component_loaded(self, name, component, library, class_name, path):
            seen.append(name)

    loaded = {"component": None, "library": None, "class_name": None, "path": "here"}
    with _hook_manager.registered(Listener()):
        assert _hook_manager.has_plugins()
        _hook_manager.notify("diffusekit_component_loaded", name="unet", **loaded)
    _hook_manager.notify("diffusekit_component_loaded", name="vae", **loaded)
    assert seen == ["unet"]
    assert not _hook_manager.has_plugins()
