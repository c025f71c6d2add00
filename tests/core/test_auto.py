"""AutoPipeline: tasks declared by fake distributions, chosen from metadata."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from diffusekit import (
    AutoPipelineForImage2Image,
    AutoPipelineForInpainting,
    AutoPipelineForText2Image,
    auto,
)

TASKS = "diffusekit.tasks"
COMPONENTS = "diffusekit.components"

FAMILY_A = """
from diffusekit.pipeline import DiffusionPipeline


class _Base(DiffusionPipeline):
    _optional_components = ["extra"]

    def __init__(self, net, extra=None, requires_safety_checker=True):
        super().__init__()
        self.register_modules(net=net, extra=extra)
        self.register_to_config(requires_safety_checker=requires_safety_checker)


class ToyText2Image(_Base):
    pass


class ToyImage2Image(_Base):
    pass
"""

FAMILY_A_NET = """
import torch
from diffusekit.modeling import ModelMixin
from diffusekit.config import BaseConfig


class ToyNetConfig(BaseConfig):
    width: int = 3


class ToyNet(ModelMixin):
    config_class = ToyNetConfig

    def __init__(self, **config):
        super().__init__(**config)
        self.proj = torch.nn.Linear(self.config.width, self.config.width)
"""

FAMILY_B = "raise RuntimeError('an unrelated plugin must not be imported')\n"


@pytest.fixture
def families(fake_distribution):
    fake_distribution(
        "toy-family-a",
        entry_points={
            TASKS: {
                "toy-a.text2image": "toy_family_a.pipelines:ToyText2Image",
                "toy-a.image2image": "toy_family_a.pipelines:ToyImage2Image",
            },
            COMPONENTS: {
                "diffusers.ToyText2Image": "toy_family_a.pipelines:ToyText2Image",
                "diffusers.ToyNet": "toy_family_a.net:ToyNet",
            },
        },
        modules={
            "toy_family_a/__init__.py": "",
            "toy_family_a/pipelines.py": FAMILY_A,
            "toy_family_a/net.py": FAMILY_A_NET,
        },
    )
    fake_distribution(
        "toy-family-b",
        entry_points={
            TASKS: {
                "toy-b.text2image": "toy_family_b:Text2Image",
                "toy-b.inpainting": "toy_family_b:Inpainting",
            }
        },
        modules={"toy_family_b.py": FAMILY_B},
    )


def make_text2image(**options):
    from toy_family_a.net import ToyNet
    from toy_family_a.pipelines import ToyText2Image

    return ToyText2Image(net=ToyNet(), **options)


def test_tasks_are_listed_from_metadata_without_imports(families):
    declared = auto.tasks()
    assert declared["toy-a"] == ["text2image", "image2image"]
    assert declared["toy-b"] == ["text2image", "inpainting"]
    assert auto.families_of("ToyText2Image") == ["toy-a"]
    assert "toy_family_a" not in sys.modules
    assert "toy_family_b" not in sys.modules


def test_from_pipe_switches_task_sharing_components_and_options(families):
    original = make_text2image(requires_safety_checker=False)
    switched = AutoPipelineForImage2Image.from_pipe(original)
    assert type(switched).__name__ == "ToyImage2Image"
    assert switched.net is original.net
    assert switched.net.proj.weight.data_ptr() == original.net.proj.weight.data_ptr()
    assert switched.config["requires_safety_checker"] is False
    assert "toy_family_b" not in sys.modules


def test_from_pipe_accepts_overrides(families):
    from toy_family_a.net import ToyNet

    original = make_text2image()
    other = ToyNet(width=5)
    switched = AutoPipelineForImage2Image.from_pipe(
        original, net=other, requires_safety_checker=False
    )
    assert switched.net is other
    assert switched.config["requires_safety_checker"] is False
    back = AutoPipelineForText2Image.from_pipe(switched)
    assert type(back).__name__ == "ToyText2Image" and back.net is other


def test_from_pretrained_loads_with_the_task_class(families, tmp_path):
    original = make_text2image(requires_safety_checker=False)
    original.save_pretrained(tmp_path / "ckpt")
    index = json.loads((tmp_path / "ckpt" / "model_index.json").read_text())
    assert index["_class_name"] == "ToyText2Image"
    loaded = AutoPipelineForImage2Image.from_pretrained(tmp_path / "ckpt")
    assert type(loaded).__name__ == "ToyImage2Image"
    assert loaded.config["requires_safety_checker"] is False
    torch.testing.assert_close(loaded.net.proj.weight, original.net.proj.weight)
    assert "toy_family_b" not in sys.modules


def test_unsupported_task_names_class_and_task(families):
    with pytest.raises(ValueError, match=r"task 'inpainting' for ToyText2Image"):
        AutoPipelineForInpainting.from_pipe(make_text2image())


def test_unknown_pipeline_class_is_a_value_error(families, tmp_path):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "NobodyServesThis"}))
    with pytest.raises(ValueError, match=r"task 'text2image' for NobodyServesThis"):
        AutoPipelineForText2Image.from_pretrained(tmp_path)


def test_auto_classes_are_not_instantiated():
    with pytest.raises(TypeError, match=r"from_pretrained"):
        AutoPipelineForText2Image()
