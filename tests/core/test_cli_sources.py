"""Models by id: owner/name@revision, --revision, --subfolder, --variant, and one-line Hub
errors, against the local Hub server."""

from __future__ import annotations

import json
import shutil

import numpy as np
import PIL.Image
from click.testing import CliRunner

from diffusekit.cli import main

from ._cli_toys import write_checkpoint


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def generate(*args):
    return invoke("generate", *args, "--no-progress")


def record(path) -> dict:
    return json.loads(PIL.Image.open(path).text["diffusekit"])


def assert_one_error_line(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_revision_in_the_id_is_pinned_to_its_commit(tmp_path, cli_toys, hub_server):
    hub_server.add_repo("toy-org/sizes", write_checkpoint(tmp_path / "v1"))
    commit = hub_server.add_repo(
        "toy-org/sizes", write_checkpoint(tmp_path / "v2", sample_size=16), revision="v2"
    )
    out = tmp_path / "v2.png"
    assert generate("toy-org/sizes@v2", "--seed", 3, "-o", out).exit_code == 0
    assert PIL.Image.open(out).size == (16, 16)
    saved = record(out)
    assert (saved["checkpoint"], saved["revision"], saved["commit"]) == (
        "toy-org/sizes",
        "v2",
        commit,
    )
    assert generate("toy-org/sizes", "--revision", "v2", "-o", tmp_path / "b.png").exit_code == 0
    assert PIL.Image.open(tmp_path / "b.png").size == (16, 16)
    assert generate("toy-org/sizes", "-o", tmp_path / "main.png").exit_code == 0
    assert PIL.Image.open(tmp_path / "main.png").size == (8, 8)

    # The tag moves; --from still uses the recorded commit.
    hub_server.add_repo(
        "toy-org/sizes", write_checkpoint(tmp_path / "v3", sample_size=24), revision="v2"
    )
    again = tmp_path / "again.png"
    assert generate("--from", out, "-o", again).exit_code == 0
    assert np.array_equal(np.asarray(PIL.Image.open(again)), np.asarray(PIL.Image.open(out)))
    conflict = generate("toy-org/sizes@v2", "--revision", "main")
    assert conflict.exit_code == 2 and "give one" in conflict.stderr


def test_subfolder_on_the_hub_and_on_disk(tmp_path, cli_toys, hub_server):
    repo = tmp_path / "repo"
    write_checkpoint(repo / "pipelines" / "small")
    (repo / "README.md").write_text("several pipelines")
    hub_server.add_repo("toy-org/multi", repo)
    out = tmp_path / "sub.png"
    result = generate("toy-org/multi", "--subfolder", "pipelines/small", "--seed", 2, "-o", out)
    assert result.exit_code == 0, result.output
    assert record(out)["subfolder"] == "pipelines/small"
    local = tmp_path / "local.png"
    assert generate(repo, "--subfolder", "pipelines/small", "--seed", 2, "-o", local).exit_code == 0
    assert np.array_equal(np.asarray(PIL.Image.open(out)), np.asarray(PIL.Image.open(local)))
    report = invoke("inspect", "toy-org/multi", "--subfolder", "pipelines/small", "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["pipeline_class"] == "ToyImagePipeline"
    missing = generate("toy-org/multi")
    assert_one_error_line(missing, "model_index.json")


def test_variant_selects_the_weights(tmp_path, cli_toys):
    folder = write_checkpoint(tmp_path / "plain")
    variant = tmp_path / "variant"
    shutil.copytree(folder, variant)
    weights = variant / "unet" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_name("diffusion_pytorch_model.fp16.safetensors"))
    out = tmp_path / "v.png"
    assert generate(variant, "--variant", "fp16", "--seed", 1, "-o", out).exit_code == 0
    assert record(out)["variant"] == "fp16"
    assert_one_error_line(generate(variant, "--seed", 1), "unet")
    checked = invoke("inspect", variant, "--variant", "fp16", "--check")
    assert checked.exit_code == 0 and "load check: OK" in checked.stdout, checked.output
    failed = invoke("inspect", variant, "--check")
    assert failed.exit_code == 1 and "load check: FAILED" in failed.stdout


def test_gated_missing_and_bad_revision_are_one_line(tmp_path, cli_toys, hub_server):
    hub_server.add_repo("toy-org/gated", write_checkpoint(tmp_path / "g"), gated=True, token="t")
    hub_server.add_repo("toy-org/open", write_checkpoint(tmp_path / "o"))
    assert_one_error_line(generate("toy-org/gated"), "toy-org/gated", "gated", "hf auth login")
    assert_one_error_line(generate("toy-org/nothing-here"), "no such Hub repository")
    assert_one_error_line(generate("toy-org/open@nope"), "no revision 'nope'")
    assert_one_error_line(invoke("inspect", "toy-org/nothing-here"), "no such Hub repository")
