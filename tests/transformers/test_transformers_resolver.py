"""The ``transformers`` library resolver, reached through diffusekit's registry.

This folder has no ``__init__.py`` on purpose: with one, pytest would import it as a top-level
package named ``transformers`` and shadow the library.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import transformers
from diffusekit_transformers.resolver import candidate_names

from diffusekit.errors import MissingComponentError, PluginImportError
from diffusekit.testing import assert_plugin_ok

DIST = "diffusekit-transformers"


def test_entry_points_are_declared_and_load():
    result = assert_plugin_ok(DIST)
    assert sorted(result.checked) == [
        "diffusekit.libraries:transformers",
        "diffusekit.plugins:transformers",
    ]


@pytest.mark.parametrize(
    "name", ["CLIPTextModel", "CLIPTextModelWithProjection", "CLIPTokenizer", "CLIPImageProcessor"]
)
def test_checkpoint_names_resolve_to_the_transformers_class(diffusekit_registry, name):
    assert diffusekit_registry.resolve("transformers", name) is getattr(transformers, name)


@pytest.mark.parametrize(
    ("legacy", "successor"),
    [
        ("CLIPFeatureExtractor", "CLIPImageProcessor"),
        ("DPTFeatureExtractor", "DPTImageProcessor"),
        ("CLIPTokenizerFast", "CLIPTokenizer"),
    ],
)
def test_legacy_names_resolve_to_their_successor_when_gone(diffusekit_registry, legacy, successor):
    expected = getattr(transformers, legacy, None) or getattr(transformers, successor)
    assert diffusekit_registry.resolve("transformers", legacy) is expected


@pytest.mark.skipif(
    hasattr(transformers, "CLIPFeatureExtractor"), reason="this transformers still has the name"
)
def test_stable_diffusion_feature_extractor_name_loads_on_transformers_5(diffusekit_registry):
    cls = diffusekit_registry.resolve("transformers", "CLIPFeatureExtractor")
    assert cls is transformers.CLIPImageProcessor
    assert callable(cls.from_pretrained) and callable(cls.save_pretrained)


def test_existing_audio_feature_extractor_is_not_remapped(diffusekit_registry):
    cls = diffusekit_registry.resolve("transformers", "ClapFeatureExtractor")
    assert cls is transformers.ClapFeatureExtractor


def test_candidate_names_only_rewrite_known_suffixes():
    assert candidate_names("CLIPFeatureExtractor") == [
        "CLIPFeatureExtractor",
        "CLIPImageProcessor",
    ]
    assert candidate_names("T5TokenizerFast") == ["T5TokenizerFast", "T5Tokenizer"]
    assert candidate_names("CLIPTextModel") == ["CLIPTextModel"]
    assert candidate_names("FeatureExtractor") == ["FeatureExtractor"]


def test_unknown_name_gives_the_registry_missing_component_error(diffusekit_registry):
    asker = "ckpt/model_index.json (text_encoder)"
    with pytest.raises(MissingComponentError) as info:
        diffusekit_registry.resolve("transformers", "CLIPTextModl", requested_by=asker)
    assert (info.value.library, info.value.class_name) == ("transformers", "CLIPTextModl")
    assert "'transformers.CLIPTextModl'" in str(info.value)
    assert asker in str(info.value)


@pytest.mark.parametrize("name", ["_LazyModule", "not a name", ""])
def test_private_or_malformed_names_are_not_served(diffusekit_registry, name):
    with pytest.raises(MissingComponentError):
        diffusekit_registry.resolve("transformers", name)


@pytest.mark.parametrize(
    ("name", "reason"),
    [("AutoTokenizer", "has no save_pretrained"), ("pipeline", "is a function")],
)
def test_exports_that_cannot_be_components_are_reported(diffusekit_registry, name, reason):
    with pytest.raises(PluginImportError) as info:
        diffusekit_registry.resolve("transformers", name)
    message = str(info.value)
    assert reason in message
    assert DIST in message


def test_importing_the_plugin_and_its_hooks_does_not_import_transformers():
    code = (
        "import sys\n"
        "from diffusekit import _hook_manager\n"
        "_hook_manager.plugin_manager()\n"
        "assert 'diffusekit_transformers.hooks' in sys.modules, 'hook module not registered'\n"
        "assert 'transformers' not in sys.modules, 'transformers imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
