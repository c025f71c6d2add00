"""Outdated scheduler configs in a checkpoint: both libraries correct the same fields the same
way when the pipeline is built (steps_offset, clip_sample), and leave the others alone (a PNDM
config with Runge-Kutta warm-up keeps it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from diffusekit import DiffusionPipeline  # noqa: E402
from diffusekit.errors import DiffusekitWarning  # noqa: E402

from .test_pipelines import _reference_pipeline  # noqa: E402

pytestmark = pytest.mark.parity

OUTDATED = {
    "ddim-offset-and-clipping": ("DDIMScheduler", {"steps_offset": 0, "clip_sample": True}),
    "pndm-with-warmup": ("PNDMScheduler", {"skip_prk_steps": False, "steps_offset": 1}),
}


@pytest.mark.parametrize("case", list(OUTDATED))
def test_outdated_scheduler_configs_are_corrected_like_the_reference(case, tmp_path):
    scheduler_name, fields = OUTDATED[case]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference = _reference_pipeline("sd1", "text2image", tmp_path, safety_checker=False)
        reference.save_pretrained(tmp_path / "checkpoint")
        config_path = tmp_path / "checkpoint" / "scheduler" / "scheduler_config.json"
        config = json.loads(config_path.read_text())
        config.update(fields, _class_name=scheduler_name)
        config_path.write_text(json.dumps(config))

        reference = diffusers.DiffusionPipeline.from_pretrained(tmp_path / "checkpoint")
        corrects = "steps_offset" in fields and fields["steps_offset"] != 1
        if corrects:
            with pytest.warns(DiffusekitWarning, match=r"scheduler: StableDiffusionPipeline"):
                ours = DiffusionPipeline.from_pretrained(tmp_path / "checkpoint")
        else:
            ours = DiffusionPipeline.from_pretrained(tmp_path / "checkpoint")
        for key in fields:
            assert ours.scheduler.config[key] == reference.scheduler.config[key], key
        images = []
        for pipe in (reference, ours):
            pipe.set_progress_bar_config(disable=True)
            out = pipe(
                "hello",
                num_inference_steps=4,
                generator=torch.Generator().manual_seed(0),
                output_type="np",
            )
            images.append(out.images)
    finally:
        torch.set_num_threads(threads)
    assert float(np.abs(images[0] - images[1]).max()) <= 1e-3
