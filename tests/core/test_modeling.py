"""ModelMixin weights I/O on tiny models: file layouts, dtypes, renames, errors, atomic saves."""

from __future__ import annotations

import json
import math
import struct
import warnings
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch import nn

from diffusekit import _safetensors_io, _weights_files
from diffusekit.config import BaseConfig
from diffusekit.errors import CheckpointError, DiffusekitWarning
from diffusekit.modeling import ModelMixin


class TinyConfig(BaseConfig):
    width: int = 8
    depth: int = 2


class Tiny(ModelMixin):
    """Linear stack with an embedding, a norm, a persistent and a non-persistent buffer."""

    config_class = TinyConfig
    keep_in_fp32_modules: ClassVar[tuple[str, ...]] = ("norm",)
    legacy_key_renames: ClassVar[tuple[tuple[str, str], ...]] = (
        (r"\.query\.", ".to_q."),
        (r"^old_embed\.", "embed."),
    )

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        width = self.config.width
        self.embed = nn.Embedding(10, width)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"to_q": nn.Linear(width, width)}) for _ in range(2)
        )
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(self.config.depth))
        self.norm = nn.LayerNorm(width)
        self.register_buffer("scale", torch.full((width,), 0.5))
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(width) / width)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(ids) * self.scale + self.freqs
        for block in self.blocks:
            hidden = block["to_q"](hidden)
        for layer in self.layers:
            hidden = layer(hidden)
        return self.norm(hidden)


def make(seed: int = 0, **config: Any) -> Tiny:
    torch.manual_seed(seed)
    model = Tiny(**config)
    with torch.no_grad():
        model.scale.uniform_()
    return model


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key].to(sa[key].dtype)), key


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------- round trips


def test_plain_round_trip(tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path / "m")
    assert names(tmp_path / "m") == ["config.json", "diffusion_pytorch_model.safetensors"]
    loaded = Tiny.from_pretrained(tmp_path / "m")
    assert_same_weights(model, loaded)
    assert torch.equal(loaded.freqs, model.freqs)
    assert not loaded.training
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(loaded(ids), model.eval()(ids))


def test_file_header_is_the_reference_layout(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    header = _safetensors_io.read_header(tmp_path / "diffusion_pytorch_model.safetensors")
    assert header.metadata == {"format": "pt"}
    assert header.data_start % 8 == 0
    assert {e.name for e in header.entries} == set(make().state_dict())


def test_variant_round_trip(tmp_path: Path) -> None:
    model = make().to(torch.float16)
    model.save_pretrained(tmp_path, variant="fp16")
    assert names(tmp_path) == ["config.json", "diffusion_pytorch_model.fp16.safetensors"]
    with pytest.raises(
        CheckpointError, match=r"no weights file.*diffusion_pytorch_model\.safetensors"
    ):
        Tiny.from_pretrained(tmp_path)
    loaded = Tiny.from_pretrained(tmp_path, variant="fp16", dtype=torch.float16)
    assert_same_weights(model, loaded)


@pytest.mark.parametrize("variant", [None, "fp16"])
def test_sharded_round_trip(tmp_path: Path, variant: str | None) -> None:
    model = make(width=16)
    model.save_pretrained(tmp_path, variant=variant, max_shard_size=1200)
    stem = "diffusion_pytorch_model" + (f".{variant}" if variant else "")
    index = (
        f"diffusion_pytorch_model.safetensors.index.{variant}.json"
        if variant
        else "diffusion_pytorch_model.safetensors.index.json"
    )
    files = names(tmp_path)
    shards = [f for f in files if f.startswith(f"{stem}-")]
    assert len(shards) > 2
    assert shards == [
        f"{stem}-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, len(shards) + 1)
    ]
    assert sorted(files) == sorted(["config.json", index, *shards])
    data = json.loads((tmp_path / index).read_text())
    state = model.state_dict()
    assert data["metadata"]["total_size"] == sum(
        t.numel() * t.element_size() for t in state.values()
    )
    assert set(data["weight_map"]) == set(state)
    assert set(data["weight_map"].values()) == set(shards)
    loaded = Tiny.from_pretrained(tmp_path, variant=variant)
    assert_same_weights(model, loaded)


def test_variants_live_side_by_side_and_resave_drops_stale_shards(tmp_path: Path) -> None:
    model = make(width=16)
    model.save_pretrained(tmp_path, max_shard_size="1KB")
    model.to(torch.float16).save_pretrained(tmp_path, variant="fp16")
    model.to(torch.float32).save_pretrained(tmp_path)
    assert names(tmp_path) == [
        "config.json",
        "diffusion_pytorch_model.fp16.safetensors",
        "diffusion_pytorch_model.safetensors",
    ]
    assert Tiny.from_pretrained(tmp_path, variant="fp16").dtype == torch.float32


@pytest.mark.parametrize(
    ("size", "expected"),
    [(123, 123), ("5GB", 5 * 10**9), ("500MB", 500 * 10**6), ("2KiB", 2048), ("1.5 kb", 1500)],
)
def test_max_shard_size_parsing(size: int | str, expected: int) -> None:
    assert _weights_files.parse_size(size) == expected


@pytest.mark.parametrize("size", ["5 parsecs", "", -1, 0, "GB"])
def test_bad_max_shard_size(tmp_path: Path, size: int | str) -> None:
    with pytest.raises(ValueError, match="max_shard_size"):
        make().save_pretrained(tmp_path, max_shard_size=size)


def test_config_overrides_and_subfolder(tmp_path: Path) -> None:
    make(depth=3).save_pretrained(tmp_path / "unet")
    loaded = Tiny.from_pretrained(tmp_path, subfolder="unet")
    assert loaded.config.depth == 3
    assert loaded.config._name_or_path == str(tmp_path)
    with pytest.raises(CheckpointError, match=r"layers\.3\.weight"):
        Tiny.from_pretrained(tmp_path, subfolder="unet", depth=4)


# ------------------------------------------------------------------------- dtypes and meta


def test_meta_loading_leaves_nothing_on_meta_and_shares_the_mapping(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    loaded = Tiny.from_pretrained(tmp_path)
    tensors = [*loaded.parameters(), *loaded.buffers()]
    assert all(t.device.type == "cpu" for t in tensors)
    storages = {p.untyped_storage().data_ptr() for p in loaded.parameters()}
    assert len(storages) == 1, "parameters should view one memory map of the file"
    assert all(p.requires_grad for p in loaded.parameters())
    assert all(isinstance(p, nn.Parameter) for p in loaded.parameters())


def test_in_place_edit_does_not_touch_the_file(tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path)
    loaded = Tiny.from_pretrained(tmp_path)
    with torch.no_grad():
        loaded.layers[0].weight.add_(1.0)
    assert_same_weights(model, Tiny.from_pretrained(tmp_path))


def test_dtype_conversion_and_keep_in_fp32(tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path)
    loaded = Tiny.from_pretrained(tmp_path, dtype=torch.bfloat16)
    assert loaded.dtype == torch.bfloat16
    assert loaded.layers[0].weight.dtype == torch.bfloat16
    assert loaded.freqs.dtype == torch.bfloat16
    assert loaded.norm.weight.dtype == torch.float32
    assert torch.equal(loaded.layers[0].weight, model.layers[0].weight.to(torch.bfloat16))
    assert torch.equal(loaded.norm.weight, model.norm.weight)
    also = Tiny.from_pretrained(tmp_path, torch_dtype=torch.float16)
    assert also.layers[1].bias.dtype == torch.float16
    assert Tiny.from_pretrained(tmp_path, dtype=torch.float64).norm.weight.dtype == torch.float64


def test_low_precision_checkpoint_loads_as_float32_by_default(tmp_path: Path) -> None:
    model = make().to(torch.float16)
    model.save_pretrained(tmp_path)
    loaded = Tiny.from_pretrained(tmp_path)
    assert loaded.dtype == torch.float32
    assert torch.equal(loaded.layers[0].weight, model.layers[0].weight.float())


def test_dtype_arguments_are_checked(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="disagree"):
        Tiny.from_pretrained(tmp_path, dtype=torch.float16, torch_dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="floating"):
        Tiny.from_pretrained(tmp_path, dtype=torch.int8)


def test_copying_load_without_meta(tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path)
    loaded = Tiny.from_pretrained(tmp_path, low_cpu_mem_usage=False, dtype=torch.float16)
    assert_same_weights(model.to(torch.float16), loaded)
    assert loaded.norm.weight.dtype == torch.float32


def test_properties_and_parameter_counts() -> None:
    model = make(width=4, depth=1)
    embedding = 10 * 4
    linear = 4 * 4 + 4
    norm = 2 * 4
    assert model.num_parameters() == embedding + 3 * linear + norm
    assert model.num_parameters(exclude_embeddings=True) == 3 * linear + norm
    model.norm.requires_grad_(False)
    assert model.num_parameters(only_trainable=True) == embedding + 3 * linear
    assert model.device == torch.device("cpu")
    assert model.dtype == torch.float32


# --------------------------------------------------------------------------- key handling


def _rewrite(folder: Path, change: Any) -> None:
    path = folder / "diffusion_pytorch_model.safetensors"
    state = {k: v.clone() for k, v in _safetensors_io.load_file(path).items()}
    _safetensors_io.save_file(change(state), path, metadata={"format": "pt"})


def test_legacy_renames(tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path)

    def to_old_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        renamed = {k.replace(".to_q.", ".query."): v for k, v in state.items()}
        renamed["old_embed.weight"] = renamed.pop("embed.weight")
        return renamed

    _rewrite(tmp_path, to_old_names)
    keys = _safetensors_io.load_file(tmp_path / "diffusion_pytorch_model.safetensors")
    assert "blocks.0.query.weight" in keys
    assert_same_weights(model, Tiny.from_pretrained(tmp_path))


def test_legacy_name_is_unexpected_when_the_new_name_is_present(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    _rewrite(tmp_path, lambda s: {**s, "blocks.0.query.weight": torch.zeros(8, 8)})
    with pytest.warns(DiffusekitWarning, match=r"not used by Tiny: blocks\.0\.query\.weight"):
        loaded = Tiny.from_pretrained(tmp_path)
    assert not torch.equal(loaded.blocks[0]["to_q"].weight, torch.zeros(8, 8))


def test_missing_key_is_an_error_naming_it(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    _rewrite(tmp_path, lambda s: {k: v for k, v in s.items() if k != "layers.1.bias"})
    with pytest.raises(
        CheckpointError, match=r"1 weights that Tiny needs are missing.*layers\.1\.bias"
    ):
        Tiny.from_pretrained(tmp_path)
    with pytest.warns(DiffusekitWarning, match=r"layers\.1\.bias.*keep their initial values"):
        Tiny.from_pretrained(tmp_path, low_cpu_mem_usage=False)


def test_unexpected_key_is_a_warning_naming_it(tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path)
    _rewrite(tmp_path, lambda s: {**s, "extra.weight": torch.ones(2)})
    with pytest.warns(
        DiffusekitWarning, match=r"1 checkpoint weights are not used by Tiny: extra\.weight"
    ):
        loaded = Tiny.from_pretrained(tmp_path)
    assert_same_weights(model, loaded)


def test_shape_mismatch_names_key_and_shapes(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    _rewrite(tmp_path, lambda s: {**s, "layers.0.weight": torch.zeros(8, 4)})
    with pytest.raises(
        CheckpointError, match=r"layers\.0\.weight has shape \(8, 4\).*expects \(8, 8\)"
    ):
        Tiny.from_pretrained(tmp_path)


# ------------------------------------------------------------------------------ bad inputs


def test_missing_weights_lists_folder_contents(tmp_path: Path) -> None:
    make().save_config(tmp_path)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(CheckpointError, match=r"no weights file.*holds: config\.json, notes\.txt"):
        Tiny.from_pretrained(tmp_path)


def test_pickle_needs_opt_in_and_loads_weights_only(tmp_path: Path) -> None:
    model = make()
    model.save_pretrained(tmp_path, safe_serialization=False)
    assert names(tmp_path) == ["config.json", "diffusion_pytorch_model.bin"]
    with pytest.raises(
        CheckpointError, match=r"diffusion_pytorch_model\.bin.*use_safetensors=False"
    ):
        Tiny.from_pretrained(tmp_path)
    assert_same_weights(model, Tiny.from_pretrained(tmp_path, use_safetensors=False))


def test_safetensors_wins_over_pickle_even_with_opt_in(tmp_path: Path) -> None:
    make(seed=1).save_pretrained(tmp_path, safe_serialization=False)
    model = make(seed=2)
    model.save_pretrained(tmp_path / "st")
    (tmp_path / "st" / "diffusion_pytorch_model.safetensors").rename(
        tmp_path / "diffusion_pytorch_model.safetensors"
    )
    assert_same_weights(model, Tiny.from_pretrained(tmp_path, use_safetensors=False))


def test_sharded_pickles_with_variant(tmp_path: Path) -> None:
    model = make(width=16)
    model.save_pretrained(tmp_path, safe_serialization=False, variant="ema", max_shard_size=1500)
    assert "diffusion_pytorch_model.bin.index.ema.json" in names(tmp_path)
    assert "diffusion_pytorch_model.ema-00001-of-" in " ".join(names(tmp_path))
    assert_same_weights(model, Tiny.from_pretrained(tmp_path, variant="ema", use_safetensors=False))


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    make().save_config(tmp_path)

    class Evil:
        def __reduce__(self) -> Any:
            return (print, ("ran code",))

    torch.save({"layers.0.weight": Evil()}, tmp_path / "diffusion_pytorch_model.bin")
    with pytest.raises(
        CheckpointError, match=r"diffusion_pytorch_model\.bin: cannot read.*weights_only"
    ):
        Tiny.from_pretrained(tmp_path, use_safetensors=False)


def test_git_lfs_pointer(tmp_path: Path) -> None:
    make().save_config(tmp_path)
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
    (tmp_path / "diffusion_pytorch_model.safetensors").write_text(pointer)
    with pytest.raises(
        CheckpointError, match=r"diffusion_pytorch_model\.safetensors: .*git-lfs pointer"
    ):
        Tiny.from_pretrained(tmp_path)


def _weights(folder: Path) -> Path:
    return folder / "diffusion_pytorch_model.safetensors"


def test_truncated_safetensors(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    data = _weights(tmp_path).read_bytes()
    _weights(tmp_path).write_bytes(data[:-10])
    with pytest.raises(
        CheckpointError, match=r"safetensors: not a valid safetensors file.*truncated"
    ):
        Tiny.from_pretrained(tmp_path)
    _weights(tmp_path).write_bytes(data[:5])
    with pytest.raises(CheckpointError, match="too short for the 8-byte header length"):
        Tiny.from_pretrained(tmp_path)
    _weights(tmp_path).write_bytes(data[:100])
    with pytest.raises(CheckpointError, match=r"header length \d+ does not fit.*truncated"):
        Tiny.from_pretrained(tmp_path)


def _write_raw(path: Path, header: bytes, data: bytes = b"") -> None:
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"{not json", "header is not valid JSON"),
        (b"[1, 2]", "header should be a JSON object"),
        (b'{"w": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}', "unknown dtype 'F33'"),
        (b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}', "needs 8 bytes"),
        (b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}', "ends at byte 16"),
        (b'{"w": {"dtype": "F32"}}', "expected dtype, shape and data_offsets"),
    ],
)
def test_corrupt_headers(tmp_path: Path, header: bytes, message: str) -> None:
    make().save_config(tmp_path)
    _write_raw(_weights(tmp_path), header, b"\0" * 8)
    with pytest.raises(CheckpointError, match=message) as info:
        Tiny.from_pretrained(tmp_path)
    assert str(_weights(tmp_path)) in str(info.value)


def test_misaligned_offsets_are_copied(tmp_path: Path) -> None:
    values = torch.arange(3, dtype=torch.float32)
    header = b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},'
    header += b' "b": {"dtype": "F32", "shape": [3], "data_offsets": [1, 13]}}'
    header += b" " * (-len(header) % 8)
    _write_raw(tmp_path / "x.safetensors", header, b"\7" + values.numpy().tobytes())
    tensors = _safetensors_io.load_file(tmp_path / "x.safetensors")
    assert torch.equal(tensors["b"], values)
    assert tensors["a"].tolist() == [7]


def test_index_naming_a_missing_shard(tmp_path: Path) -> None:
    make(width=16).save_pretrained(tmp_path, max_shard_size=1200)
    second = sorted(tmp_path.glob("diffusion_pytorch_model-*.safetensors"))[1]
    second.unlink()
    with pytest.raises(
        CheckpointError, match=r"index\.json: names the shard (.*), which is missing"
    ) as info:
        Tiny.from_pretrained(tmp_path)
    assert second.name in str(info.value)


def test_index_listing_keys_a_shard_lacks(tmp_path: Path) -> None:
    make(width=16).save_pretrained(tmp_path, max_shard_size=1200)
    index = tmp_path / "diffusion_pytorch_model.safetensors.index.json"
    data = json.loads(index.read_text())
    first, last = sorted(set(data["weight_map"].values()))[
        :: len(set(data["weight_map"].values())) - 1
    ]
    assert data["weight_map"]["embed.weight"] == first
    data["weight_map"]["embed.weight"] = last
    index.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=rf"index\.json: lists \['embed\.weight'\] in {last}"):
        Tiny.from_pretrained(tmp_path)


def test_device_map(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    assert Tiny.from_pretrained(tmp_path, device_map="cpu").device.type == "cpu"
    assert Tiny.from_pretrained(tmp_path, device_map={"": "cpu"}).device.type == "cpu"
    for splitting in ("auto", "balanced"):
        with pytest.raises(ValueError, match=f"device_map='{splitting}'.*not supported"):
            Tiny.from_pretrained(tmp_path, device_map=splitting)
    with pytest.raises(ValueError, match="per-module device_map dict is not supported"):
        Tiny.from_pretrained(tmp_path, device_map={"layers": "cpu", "norm": "cpu"})
    with pytest.raises(ValueError, match="is not a device"):
        Tiny.from_pretrained(tmp_path, device_map="floppy")


# ----------------------------------------------------------------------------- atomic save


def test_interrupted_save_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model"
    old = make(seed=1, width=16)
    old.save_pretrained(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    real_save = _safetensors_io.save_file
    calls = []

    def failing_save(tensors: dict[str, torch.Tensor], path: Any, **kwargs: Any) -> None:
        calls.append(path)
        if len(calls) == 2:
            Path(path).write_bytes(b"partial")
            raise OSError("disk full")
        real_save(tensors, path, **kwargs)

    monkeypatch.setattr(_safetensors_io, "save_file", failing_save)
    with pytest.raises(OSError, match="disk full"):
        make(seed=2, width=16).save_pretrained(target, max_shard_size=1200)
    assert len(calls) == 2
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert names(tmp_path) == ["model"], "no staging folder may be left behind"
    monkeypatch.undo()
    assert_same_weights(old, Tiny.from_pretrained(target))


def test_save_keeps_unrelated_files(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    (tmp_path / "README.md").write_text("notes")
    make(seed=3).save_pretrained(tmp_path)
    assert (tmp_path / "README.md").read_text() == "notes"


def test_saving_onto_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(CheckpointError, match="expected a folder to save into, found a file"):
        make().save_pretrained(tmp_path / "f")


# ----------------------------------------------------------------------- construction rules


def test_buffers_computed_from_parameters_are_reported(tmp_path: Path) -> None:
    class Derived(ModelMixin):
        config_class = TinyConfig

        def __init__(self, **config: Any) -> None:
            super().__init__(**config)
            self.proj = nn.Linear(2, 2)
            self.register_buffer("doubled", self.proj.weight.detach() * 2, persistent=False)

    Derived().save_pretrained(tmp_path)
    with pytest.raises(RuntimeError, match=r"\['doubled'\] are still on the meta device"):
        Derived.from_pretrained(tmp_path)


def test_meta_switch_is_off_outside_loading(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    Tiny.from_pretrained(tmp_path)
    assert make().layers[0].weight.device.type == "cpu"
    assert nn.Module.register_parameter.__module__ == "torch.nn.modules.module"


def test_importing_diffusekit_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, diffusekit, diffusekit.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_warning_on_clean_load(tmp_path: Path) -> None:
    make().save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Tiny.from_pretrained(tmp_path)


def test_shard_plan_packs_in_order_and_isolates_oversized_tensors() -> None:
    sizes = {"a": 6, "b": 6, "c": 2, "big": 20, "d": 6, "e": 2, "f": 2}
    state = {name: torch.zeros(n, dtype=torch.uint8) for name, n in sizes.items()}
    plan = _weights_files.plan_shards(state, 10)
    assert [list(shard) for shard in plan] == [["a"], ["big"], ["b", "c"], ["d", "e", "f"]]


def _fake_hub_cache(cache: Path, repo_id: str, files_from: Path) -> None:
    """Lay out `files_from` as a cached snapshot of `repo_id`, as huggingface_hub stores it."""
    revision = "0" * 40
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision / "unet"
    snapshot.mkdir(parents=True)
    for path in files_from.iterdir():
        (snapshot / path.name).write_bytes(path.read_bytes())


@pytest.mark.parametrize("shards", [False, True])
def test_repo_id_from_the_hub_cache(tmp_path: Path, shards: bool) -> None:
    model = make(width=16)
    model.save_pretrained(
        tmp_path / "saved", variant="fp16", max_shard_size=1200 if shards else "1GB"
    )
    _fake_hub_cache(tmp_path / "cache", "someone/tiny", tmp_path / "saved")
    loaded = Tiny.from_pretrained(
        "someone/tiny",
        subfolder="unet",
        variant="fp16",
        cache_dir=tmp_path / "cache",
        local_files_only=True,
    )
    assert_same_weights(model, loaded)
    with pytest.raises(
        CheckpointError, match=r"no weights file; looked for diffusion_pytorch_model"
    ):
        Tiny.from_pretrained(
            "someone/tiny", subfolder="unet", cache_dir=tmp_path / "cache", local_files_only=True
        )


def test_converting_read_in_several_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_safetensors_io, "_CHUNK_BYTES", 12)
    values = torch.randn(5, 7)
    _safetensors_io.save_file({"w": values}, tmp_path / "w.safetensors")
    file = _safetensors_io.SafetensorsFile(tmp_path / "w.safetensors")
    converted = file.tensor("w", torch.bfloat16)
    assert converted.shape == (5, 7)
    assert torch.equal(converted, values.to(torch.bfloat16))
    assert file._storage is None, "a converted read must not map the file"


def test_building_on_meta_skips_initialisers_only_for_meta_tensors() -> None:
    from diffusekit import _empty_init

    original = nn.init.uniform_
    real = torch.zeros(4)
    with _empty_init.parameters_on_meta():
        layer = nn.Linear(3, 2)
        assert layer.weight.is_meta
        assert nn.init.uniform_ is not original
        assert nn.init.uniform_(layer.weight) is layer.weight
        nn.init.uniform_(real, 1.0, 2.0)
    assert bool((real >= 1.0).all())
    assert nn.init.uniform_ is original
