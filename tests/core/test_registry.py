"""Registry behaviour against fake distributions on sys.path."""

from __future__ import annotations

import pytest

from diffusekit import registry
from diffusekit.errors import (
    MissingComponentError,
    PluginBlockedError,
    PluginConflictError,
    PluginImportError,
    PluginKindError,
)

COMPONENTS = "diffusekit.components"


def toy_module(class_name: str, marker: str = "") -> str:
    return f"""
class {class_name}:
    marker = {marker!r}

    @classmethod
    def from_pretrained(cls, path, **kwargs):
        return cls()

    def save_pretrained(self, path, **kwargs):
        pass
"""


def test_resolve_imports_only_the_module_asked_for(fake_distribution):
    import sys

    fake_distribution(
        "toy-a",
        entry_points={
            COMPONENTS: {"toylib.Alpha": "toy_a.alpha:Alpha", "toylib.Beta": "toy_a.beta:Beta"}
        },
        modules={
            "toy_a/__init__.py": "",
            "toy_a/alpha.py": toy_module("Alpha"),
            "toy_a/beta.py": toy_module("Beta"),
        },
    )
    assert "toy_a.alpha" not in sys.modules
    rows = registry.list_entries()
    assert {r.name for r in rows if r.name.startswith("toylib.")} == {"toylib.Alpha", "toylib.Beta"}
    assert "toy_a.alpha" not in sys.modules, "listing must not import plugins"

    cls = registry.resolve("toylib", "Alpha")
    assert cls.__name__ == "Alpha"
    assert "toy_a.alpha" in sys.modules
    assert "toy_a.beta" not in sys.modules


def test_broken_plugin_breaks_only_its_own_names(fake_distribution):
    fake_distribution(
        "good-plugin",
        entry_points={COMPONENTS: {"toylib.Good": "good_plugin:Good"}},
        modules={"good_plugin.py": toy_module("Good")},
    )
    fake_distribution(
        "broken-plugin",
        version="2.3",
        entry_points={COMPONENTS: {"toylib.Broken": "broken_plugin:Broken"}},
        modules={"broken_plugin.py": "raise RuntimeError('boom at import')\n"},
    )
    assert registry.resolve("toylib", "Good").__name__ == "Good"
    with pytest.raises(PluginImportError) as info:
        registry.resolve("toylib", "Broken")
    message = str(info.value)
    assert "broken-plugin 2.3" in message and "boom at import" in message
    assert isinstance(info.value.__cause__, RuntimeError)
    assert registry.resolve("toylib", "Good").__name__ == "Good"


def test_identical_copies_of_one_distribution_are_not_a_conflict(fake_distribution):
    spec = dict(
        entry_points={COMPONENTS: {"toylib.Twin": "twin_plugin:Twin"}},
        modules={"twin_plugin.py": toy_module("Twin")},
    )
    fake_distribution("twin-plugin", path_entry="first", **spec)
    fake_distribution("twin-plugin", path_entry="second", **spec)
    assert registry.resolve("toylib", "Twin").__name__ == "Twin"
    assert [r.status for r in registry.list_entries() if r.name == "toylib.Twin"] == ["ok"]


def test_editable_install_leftover_metadata_is_not_a_conflict(fake_distribution, tmp_path):
    """An editable install leaves an egg-info in the source tree beside the dist-info."""
    fake_distribution(
        "editable-plugin",
        path_entry="site-packages",
        entry_points={COMPONENTS: {"toylib.Edit": "editable_plugin:Edit"}},
        modules={"editable_plugin.py": toy_module("Edit")},
    )
    src = tmp_path / "site" / "src-tree"
    egg = src / "editable_plugin.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: editable_plugin\nVersion: 1.0\n\n")
    (egg / "entry_points.txt").write_text(f"[{COMPONENTS}]\ntoylib.Edit = editable_plugin:Edit\n")
    import sys

    sys.path.append(str(src))
    try:
        registry.refresh()
        assert registry.resolve("toylib", "Edit").__name__ == "Edit"
        assert len(registry.discovery().shadowed["editable-plugin"]) == 1
    finally:
        sys.path.remove(str(src))


def test_conflict_between_non_adjacent_distributions_names_both(fake_distribution):
    fake_distribution(
        "claimant-one",
        version="1.1",
        entry_points={COMPONENTS: {"toylib.Contested": "claimant_one:Contested"}},
        modules={"claimant_one.py": toy_module("Contested", "one")},
    )
    for i in range(3):
        fake_distribution(
            f"bystander-{i}",
            entry_points={COMPONENTS: {f"toylib.Other{i}": f"bystander_{i}:Other{i}"}},
            modules={f"bystander_{i}.py": toy_module(f"Other{i}")},
        )
    fake_distribution(
        "claimant-two",
        version="2.2",
        entry_points={COMPONENTS: {"toylib.Contested": "claimant_two:Contested"}},
        modules={"claimant_two.py": toy_module("Contested", "two")},
    )
    with pytest.raises(PluginConflictError) as info:
        registry.resolve("toylib", "Contested")
    message = str(info.value)
    for expected in (
        "claimant-one 1.1",
        "claimant-two 2.2",
        "claimant_one:Contested",
        "claimant_two:Contested",
    ):
        assert expected in message
    assert "DIFFUSEKIT_PREFER" in message
    statuses = {
        r.distribution: r.status for r in registry.list_entries() if r.name == "toylib.Contested"
    }
    assert statuses == {"claimant-one": "conflict", "claimant-two": "conflict"}


def test_prefer_environment_variable_picks_a_claimant(fake_distribution, monkeypatch):
    for marker in ("one", "two"):
        fake_distribution(
            f"pick-{marker}",
            entry_points={COMPONENTS: {"toylib.Picked": f"pick_{marker}:Picked"}},
            modules={f"pick_{marker}.py": toy_module("Picked", marker)},
        )
    monkeypatch.setenv("DIFFUSEKIT_PREFER", "toylib.Picked=pick_two")
    registry.refresh()
    assert registry.resolve("toylib", "Picked").marker == "two"
    assert registry.explain("toylib.Picked").reason == "chosen by DIFFUSEKIT_PREFER"


def test_blocked_distribution_is_listed_but_not_used(fake_distribution, monkeypatch):
    fake_distribution(
        "blocked-plugin",
        entry_points={COMPONENTS: {"toylib.Blocked": "blocked_plugin:Blocked"}},
        modules={"blocked_plugin.py": toy_module("Blocked")},
    )
    monkeypatch.setenv("DIFFUSEKIT_DISABLE_PLUGINS", "Blocked_Plugin, other")
    registry.refresh()
    assert [r.status for r in registry.list_entries() if r.name == "toylib.Blocked"] == ["blocked"]
    with pytest.raises(PluginBlockedError, match=r"blocked-plugin 1\.0"):
        registry.resolve("toylib", "Blocked")


def test_blocking_one_claimant_resolves_a_conflict(fake_distribution, monkeypatch):
    for marker in ("keep", "drop"):
        fake_distribution(
            f"c-{marker}",
            entry_points={COMPONENTS: {"toylib.Both": f"c_{marker}:Both"}},
            modules={f"c_{marker}.py": toy_module("Both", marker)},
        )
    monkeypatch.setenv("DIFFUSEKIT_DISABLE_PLUGINS", "c-drop")
    registry.refresh()
    assert registry.resolve("toylib", "Both").marker == "keep"


def test_programmatic_registration_overrides_entry_points(fake_distribution):
    fake_distribution(
        "overridden-plugin",
        entry_points={COMPONENTS: {"toylib.Over": "overridden_plugin:Over"}},
        modules={"overridden_plugin.py": toy_module("Over", "entry")},
    )

    class Mine:
        marker = "mine"

    assert registry.resolve("toylib", "Over").marker == "entry"
    with registry.registered("toylib", "Over", Mine):
        assert registry.resolve("toylib", "Over") is Mine
        statuses = {
            r.distribution: r.status for r in registry.list_entries() if r.name == "toylib.Over"
        }
        assert statuses == {"overridden-plugin": "overridden", "<register()>": "registered"}
    assert registry.resolve("toylib", "Over").marker == "entry"


def test_register_twice_needs_replace(diffusekit_registry):
    class A: ...

    class B: ...

    registry.register("toylib", "Twice", A)
    with pytest.raises(ValueError, match="replace=True"):
        registry.register("toylib", "Twice", B)
    registry.register("toylib", "Twice", B, replace=True)
    assert registry.resolve("toylib", "Twice") is B


def test_register_accepts_lazy_module_attr_strings(diffusekit_registry):
    registry.register("toylib", "Lazy", "collections:OrderedDict")
    from collections import OrderedDict

    assert registry.resolve("toylib", "Lazy") is OrderedDict
    with pytest.raises(ValueError, match="module:attr"):
        registry.register("toylib", "Bad", "no_colon_here")


def test_missing_name_suggests_install_and_close_matches(fake_distribution, monkeypatch):
    from importlib import metadata

    dist = fake_distribution(
        "near-plugin",
        entry_points={COMPONENTS: {"diffusers.UNet2DModel": "near_plugin:UNet2DModel"}},
        modules={"near_plugin.py": toy_module("UNet2DModel")},
    )
    only_fakes = metadata.distributions
    monkeypatch.setattr(metadata, "distributions", lambda: only_fakes(path=[str(dist.root)]))
    registry.refresh()
    with pytest.raises(MissingComponentError) as info:
        registry.resolve(
            "diffusers",
            "UNet2DConditionModel",
            requested_by="component 'unet' of /ckpt/model_index.json",
        )
    message = str(info.value)
    assert "pip install diffusekit-models" in message
    assert "diffusers.UNet2DModel" in message
    assert "component 'unet' of /ckpt/model_index.json" in message
    assert info.value.close_matches == ("diffusers.UNet2DModel",)


def test_library_resolver_serves_names_without_component_entries(fake_distribution):
    fake_distribution(
        "lib-plugin",
        entry_points={"diffusekit.libraries": {"foreignlib": "lib_plugin:resolve"}},
        modules={
            "lib_plugin.py": """
            class Known:
                pass

            def resolve(class_name):
                return Known if class_name == "Known" else None
            """
        },
    )
    assert registry.resolve("foreignlib", "Known").__name__ == "Known"
    with pytest.raises(MissingComponentError):
        registry.resolve("foreignlib", "Unknown")


def test_exact_entry_beats_library_resolver(fake_distribution):
    fake_distribution(
        "lib-and-entry",
        entry_points={
            "diffusekit.libraries": {"mixlib": "mix_plugin:resolve"},
            COMPONENTS: {"mixlib.Thing": "mix_plugin:Exact"},
        },
        modules={
            "mix_plugin.py": """
            class Exact: ...
            class FromResolver: ...
            def resolve(name):
                return FromResolver
            """
        },
    )
    assert registry.resolve("mixlib", "Thing").__name__ == "Exact"
    assert registry.resolve("mixlib", "Other").__name__ == "FromResolver"


def test_library_names_may_contain_dots(fake_distribution):
    fake_distribution(
        "dotted-plugin",
        entry_points={COMPONENTS: {"onnxruntime.training.ORTModule": "dotted_plugin:ORTModule"}},
        modules={"dotted_plugin.py": toy_module("ORTModule")},
    )
    assert registry.resolve("onnxruntime.training", "ORTModule").__name__ == "ORTModule"


def test_entry_point_of_wrong_kind_is_rejected(fake_distribution):
    fake_distribution(
        "kind-plugin",
        entry_points={COMPONENTS: {"toylib.NotAClass": "kind_plugin:function"}},
        modules={"kind_plugin.py": "def function():\n    pass\n"},
    )
    with pytest.raises(PluginKindError, match="expected a class"):
        registry.resolve("toylib", "NotAClass")


def test_discovery_is_memoised_until_refresh(fake_distribution, tmp_path):
    first = registry.discovery()
    assert registry.discovery() is first
    fake_distribution(
        "late-plugin",
        entry_points={COMPONENTS: {"toylib.Late": "late_plugin:Late"}},
        modules={"late_plugin.py": toy_module("Late")},
    )
    assert registry.discovery() is not first
    assert "toylib.Late" in registry.component_names()


def test_bad_prefer_variable_is_reported(diffusekit_registry, monkeypatch):
    from diffusekit.errors import PluginError

    monkeypatch.setenv("DIFFUSEKIT_PREFER", "nonsense")
    registry.refresh()
    with pytest.raises(PluginError, match="DIFFUSEKIT_PREFER"):
        registry.discovery()
