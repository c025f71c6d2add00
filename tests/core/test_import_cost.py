"""`import diffusekit` must stay cheap: no torch, no pluggy, no importlib.metadata."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_import_loads_no_heavy_modules():
    out = run(
        "import sys, diffusekit\n"
        "print(sorted(m for m in ('torch', 'pluggy', 'importlib.metadata', 'pydantic') "
        "if m in sys.modules))"
    )
    assert out == "[]"


def test_public_names_resolve_lazily():
    out = run("import sys, diffusekit\ndiffusekit.ConfigMixin\nprint('torch' in sys.modules)")
    assert out == "False"


def test_public_api_is_pinned():
    import diffusekit

    assert set(diffusekit.__all__) == {
        "__version__",
        "ConfigMixin",
        "FrozenConfig",
        "BaseConfig",
        "ModelMixin",
        "SchedulerMixin",
        "SchedulerConfig",
        "SchedulerOutput",
        "DiffusekitError",
        "MissingComponentError",
        "PluginError",
        "ConfigError",
        "CheckpointError",
        "RemoteCodeError",
        "ImagePipelineOutput",
        "AudioPipelineOutput",
        "VaeImageProcessor",
        "make_image_grid",
        "export_to_gif",
        "export_to_wav",
        "load_image",
        "DiffusionPipeline",
        "AutoPipelineForText2Image",
        "AutoPipelineForImage2Image",
        "AutoPipelineForInpainting",
        "registry",
        "hooks",
        "errors",
        "config",
        "modeling",
        "scheduling",
        "testing",
        "pipeline",
        "kernel",
        "auto",
        "image",
    }


def test_unknown_attribute_is_an_attribute_error_with_a_hint(diffusekit_registry):
    import diffusekit

    try:
        diffusekit.NoSuchPipelineAnywhere  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchPipelineAnywhere" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_registered_class_is_importable_from_the_package(diffusekit_registry):
    import diffusekit

    class ToyScheduler: ...

    diffusekit_registry.register("diffusers", "ToyOnlySchedulerForTest", ToyScheduler)
    from diffusekit import ToyOnlySchedulerForTest  # type: ignore[attr-defined]

    assert ToyOnlySchedulerForTest is ToyScheduler
    diffusekit.__dict__.pop("ToyOnlySchedulerForTest", None)
