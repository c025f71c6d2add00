"""Zero-copy loads of transformers models (`diffusekit_transformers.fast_load`) give what
transformers' own ``from_pretrained`` gives, and every case they do not handle falls back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from diffusekit_transformers import fast_load, hooks

from diffusekit import _safetensors_io

ModelFactory = Callable[[], Any]


def _clip_text_config(**extra: Any) -> Any:
    return transformers.CLIPTextConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=100,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        **extra,
    )


def _clip_text() -> Any:
    return transformers.CLIPTextModel(_clip_text_config())


def _clip_text_projection() -> Any:
    return transformers.CLIPTextModelWithProjection(_clip_text_config(projection_dim=16))


def _clip_vision_projection() -> Any:
    config = transformers.CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=30,
        patch_size=10,
        projection_dim=16,
    )
    return transformers.CLIPVisionModelWithProjection(config)


def _t5_encoder() -> Any:
    config = transformers.T5Config(
        vocab_size=100, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=4
    )
    return transformers.T5EncoderModel(config)


MODELS: dict[str, ModelFactory] = {
    "clip-text": _clip_text,
    "clip-text-projection": _clip_text_projection,
    "clip-vision-projection": _clip_vision_projection,
    "t5-encoder": _t5_encoder,
}


def _inputs(model: Any) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    if "Vision" in type(model).__name__:
        return {"pixel_values": torch.randn(2, 3, 30, 30, generator=generator)}
    return {"input_ids": torch.randint(0, 100, (2, 7), generator=generator)}


def _save(model_factory: ModelFactory, folder: Path, seed: int = 0, **save: Any) -> Path:
    torch.manual_seed(seed)
    model_factory().save_pretrained(folder, **save)
    return folder


def _fast(cls: type, folder: Path, **options: Any) -> Any:
    model = fast_load.load(cls, str(folder), options)
    assert model is not None, "the fast path fell back"
    return model


def _reference(cls: type, folder: Path, **options: Any) -> Any:
    return cls.from_pretrained(str(folder), **options)


def _file_size(folder: Path) -> set[int]:
    return {p.stat().st_size for p in folder.glob("*.safetensors")}


def assert_same(fast: Any, reference: Any) -> None:
    assert type(fast) is type(reference)
    assert fast.config.to_dict() == reference.config.to_dict()
    assert fast.config._attn_implementation == reference.config._attn_implementation
    assert fast.name_or_path == reference.name_or_path
    assert fast.training is reference.training is False
    fast_state, reference_state = fast.state_dict(), reference.state_dict()
    assert list(fast_state) == list(reference_state)
    for key, tensor in reference_state.items():
        assert fast_state[key].dtype == tensor.dtype, key
        assert torch.equal(fast_state[key], tensor), key
    fast_buffers = dict(fast.named_buffers())
    for key, tensor in reference.named_buffers():
        assert fast_buffers[key].dtype == tensor.dtype and torch.equal(fast_buffers[key], tensor)
    for (name, p), (_, q) in zip(fast.named_parameters(), reference.named_parameters()):
        assert p.requires_grad == q.requires_grad, name
    with torch.no_grad():
        assert torch.equal(fast(**_inputs(fast))[0], reference(**_inputs(reference))[0])


def assert_views_file(model: Any, folder: Path) -> None:
    """Every parameter lives in a storage the size of a weights file: the mapping itself."""
    sizes = _file_size(folder)
    for name, parameter in model.named_parameters():
        assert parameter.untyped_storage().nbytes() in sizes, name


# ------------------------------------------------------------------------ same as transformers


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fast_path_equals_transformers(name: str, tmp_path: Path) -> None:
    folder = _save(MODELS[name], tmp_path / name)
    cls = type(MODELS[name]())
    fast = _fast(cls, folder)
    assert_same(fast, _reference(cls, folder))
    assert_views_file(fast, folder)


def test_tied_weights_are_tied(tmp_path: Path) -> None:
    folder = _save(_t5_encoder, tmp_path / "t5")
    assert "encoder.embed_tokens.weight" not in _safetensors_io.load_file(
        folder / "model.safetensors"
    )
    fast = _fast(transformers.T5EncoderModel, folder)
    assert fast.encoder.embed_tokens.weight is fast.shared.weight


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ["clip-text", "clip-vision-projection"])
def test_dtype_option(name: str, dtype: torch.dtype, tmp_path: Path) -> None:
    folder = _save(MODELS[name], tmp_path / name)
    cls = type(MODELS[name]())
    fast = _fast(cls, folder, dtype=dtype)
    assert fast.dtype == dtype and fast.config.dtype == dtype
    reference = _reference(cls, folder, dtype=dtype)
    fast_state = fast.state_dict()
    assert all(torch.equal(fast_state[k], v) for k, v in reference.state_dict().items())
    assert fast.config.to_dict() == reference.config.to_dict()
    sizes = _file_size(folder)
    assert all(p.untyped_storage().nbytes() not in sizes for p in fast.parameters())


def test_half_checkpoint_loads_in_its_dtype_without_a_copy(tmp_path: Path) -> None:
    torch.manual_seed(0)
    _clip_text().half().save_pretrained(tmp_path / "half")
    fast = _fast(transformers.CLIPTextModel, tmp_path / "half")
    assert fast.dtype == torch.float16
    assert_same(fast, _reference(transformers.CLIPTextModel, tmp_path / "half"))
    assert_views_file(fast, tmp_path / "half")
    same = _fast(transformers.CLIPTextModel, tmp_path / "half", dtype=torch.float16)
    assert_views_file(same, tmp_path / "half")


def test_sharded_checkpoint(tmp_path: Path) -> None:
    folder = _save(_clip_text, tmp_path / "sharded", max_shard_size="20KB")
    assert (folder / "model.safetensors.index.json").is_file()
    assert len(list(folder.glob("model-*-of-*.safetensors"))) > 1
    fast = _fast(transformers.CLIPTextModel, folder)
    assert_same(fast, _reference(transformers.CLIPTextModel, folder))
    assert_views_file(fast, folder)


@pytest.mark.parametrize("shard", [None, "20KB"])
def test_variant_is_loaded_beside_plain_weights(tmp_path: Path, shard: str | None) -> None:
    folder = _save(_clip_text, tmp_path / "ckpt", seed=0)
    extra = {"max_shard_size": shard} if shard else {}
    _save(_clip_text, folder, seed=1, variant="ema", **extra)
    fast = _fast(transformers.CLIPTextModel, folder, variant="ema")
    assert_same(fast, _reference(transformers.CLIPTextModel, folder, variant="ema"))
    plain = _fast(transformers.CLIPTextModel, folder)
    embedding = "embeddings.token_embedding.weight"
    assert not torch.equal(plain.state_dict()[embedding], fast.state_dict()[embedding])


def test_unreadable_shards_fall_back(tmp_path: Path) -> None:
    folder = _save(_clip_text, tmp_path / "sharded", max_shard_size="20KB")
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    key = next(iter(index["weight_map"]))
    index["weight_map"][key] = "model-00009-of-00009.safetensors"
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert fast_load.load(transformers.CLIPTextModel, str(folder), {}) is None


def test_missing_variant_falls_back(tmp_path: Path) -> None:
    folder = _save(_clip_text, tmp_path / "ckpt")
    assert fast_load.load(transformers.CLIPTextModel, str(folder), {"variant": "fp16"}) is None


# ----------------------------------------------------------------------------------- guards


def _rewrite_weights(folder: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    path = folder / "model.safetensors"
    state = {k: v.clone() for k, v in _safetensors_io.load_file(path).items()}
    change(state)
    path.unlink()
    _safetensors_io.save_file(state, path, metadata={"format": "pt"})


def _rename(state: dict[str, torch.Tensor]) -> None:
    state["text_model.final_layer_norm.weight"] = state.pop("final_layer_norm.weight")


def _drop(state: dict[str, torch.Tensor]) -> None:
    del state["final_layer_norm.bias"]


def _add(state: dict[str, torch.Tensor]) -> None:
    state["extra.weight"] = torch.zeros(3)


def _reshape(state: dict[str, torch.Tensor]) -> None:
    state["final_layer_norm.bias"] = torch.zeros(31)


@pytest.mark.parametrize("change", [_rename, _drop, _add, _reshape])
def test_keys_or_shapes_that_differ_fall_back(
    change: Callable[[dict[str, torch.Tensor]], None], tmp_path: Path
) -> None:
    folder = _save(_clip_text, tmp_path / "ckpt")
    _rewrite_weights(folder, change)
    assert fast_load.load(transformers.CLIPTextModel, str(folder), {}) is None


def test_only_pickles_falls_back_without_unpickling(tmp_path: Path, monkeypatch: Any) -> None:
    folder = _save(_clip_text, tmp_path / "ckpt")
    state = _safetensors_io.load_file(folder / "model.safetensors")
    torch.save({k: v.clone() for k, v in state.items()}, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("unpickled"))
    assert fast_load.load(transformers.CLIPTextModel, str(folder), {}) is None


@pytest.mark.parametrize(
    "options",
    [
        {"use_safetensors": False},
        {"device_map": "cpu"},
        {"revision": "main"},
        {"dtype": "auto"},
        {"dtype": torch.int8},
    ],
)
def test_options_not_handled_fall_back(options: dict[str, Any], tmp_path: Path) -> None:
    folder = _save(_clip_text, tmp_path / "ckpt")
    assert fast_load.load(transformers.CLIPTextModel, str(folder), options) is None


def test_handled_options_do_not_fall_back(tmp_path: Path) -> None:
    folder = _save(_clip_text, tmp_path / "ckpt")
    options = {"use_safetensors": True, "low_cpu_mem_usage": False, "device_map": None}
    assert fast_load.load(transformers.CLIPTextModel, str(folder), options) is not None


def test_quantization_config_falls_back(tmp_path: Path) -> None:
    folder = _save(_clip_text, tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_8bit": True}
    (folder / "config.json").write_text(json.dumps(config))
    assert fast_load.load(transformers.CLIPTextModel, str(folder), {}) is None


def test_fp32_upcast_modules_fall_back_in_float16_only(tmp_path: Path) -> None:
    folder = _save(_t5_encoder, tmp_path / "t5")
    assert transformers.T5EncoderModel._keep_in_fp32_modules
    options = {"dtype": torch.float16}
    assert fast_load.load(transformers.T5EncoderModel, str(folder), options) is None
    fast = _fast(transformers.T5EncoderModel, folder, dtype=torch.bfloat16)
    reference = _reference(transformers.T5EncoderModel, folder, dtype=torch.bfloat16)
    assert all(torch.equal(fast.state_dict()[k], v) for k, v in reference.state_dict().items())


# ------------------------------------------------------------------------------------- hook


def test_hook_answers_for_transformers_models_only(tmp_path: Path) -> None:
    folder = str(_save(_clip_text, tmp_path / "ckpt"))
    model = hooks.diffusekit_load_component("transformers", transformers.CLIPTextModel, folder, {})
    assert isinstance(model, transformers.CLIPTextModel)
    assert (
        hooks.diffusekit_load_component("diffusers", transformers.CLIPTextModel, folder, {}) is None
    )
    tokenizer = transformers.CLIPTokenizer
    assert hooks.diffusekit_load_component("transformers", tokenizer, folder, {}) is None


def test_opt_out_env_var(tmp_path: Path, monkeypatch: Any) -> None:
    folder = str(_save(_clip_text, tmp_path / "ckpt"))
    monkeypatch.setenv(fast_load.ENV_VAR, "transformers")
    assert (
        hooks.diffusekit_load_component("transformers", transformers.CLIPTextModel, folder, {})
        is None
    )
    monkeypatch.setenv(fast_load.ENV_VAR, "diffusekit")
    assert (
        hooks.diffusekit_load_component("transformers", transformers.CLIPTextModel, folder, {})
        is not None
    )
