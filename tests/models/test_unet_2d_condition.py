"""UNet2DConditionModel on its own: config validation, shapes, slicing, save/load round trip."""

from __future__ import annotations

import pytest
import torch
from diffusekit_models.attention_processors import (
    AttnProcessor,
    AttnProcessor2_0,
    SlicedAttnProcessor,
)
from diffusekit_models.unet_2d_condition import UNet2DConditionModel

from diffusekit.errors import ConfigError, DiffusekitWarning

TINY = {
    "sample_size": 8,
    "block_out_channels": [16, 32],
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "cross_attention_dim": 12,
    "attention_head_dim": 2,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
}


def _unet(**overrides: object) -> UNet2DConditionModel:
    torch.manual_seed(0)
    return UNet2DConditionModel(**{**TINY, **overrides}).eval()


def _inputs(height: int = 8, width: int = 8) -> dict:
    generator = torch.Generator().manual_seed(1)
    return {
        "sample": torch.randn(2, 4, height, width, generator=generator),
        "timestep": torch.tensor([1, 500]),
        "encoder_hidden_states": torch.randn(2, 3, 12, generator=generator),
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"up_block_types": ["UpBlock2D"]}, "up_block_types"),
        ({"attention_head_dim": [1, 2, 4]}, "attention_head_dim"),
        ({"num_attention_heads": 4}, "num_attention_heads"),
        ({"down_block_types": ["CrossAttnDownBlock2D", "NoSuchBlock"]}, "down_block_types"),
        ({"addition_embed_type": "text_time"}, "addition_time_embed_dim"),
        ({"class_embed_type": "projection"}, "projection_class_embeddings_input_dim"),
        ({"resnet_time_scale_shift": "ada_group"}, "resnet_time_scale_shift"),
        ({"encoder_hid_dim_type": "text_proj"}, "encoder_hid_dim"),
    ],
)
def test_invalid_configs_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        _unet(**overrides)


def test_attention_head_dim_counts_heads_as_in_the_reference() -> None:
    unet = _unet(attention_head_dim=[2, 4])
    attn = unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1
    assert attn.heads == 2
    assert attn.dim_head == 8
    assert unet.up_blocks[1].attentions[0].transformer_blocks[0].attn2.heads == 2


def test_output_shape_for_sizes_not_divisible_by_the_up_factor() -> None:
    out = _unet()(**_inputs(height=7, width=10))
    assert out.sample.shape == (2, 4, 7, 10)
    assert out[0] is out.sample


def test_scalar_timestep_equals_broadcast_tensor() -> None:
    unet = _unet()
    inputs = _inputs()
    with torch.no_grad():
        scalar = unet(**{**inputs, "timestep": 250}).sample
        tensor = unet(**{**inputs, "timestep": torch.tensor([250, 250])}).sample
    torch.testing.assert_close(scalar, tensor, atol=0, rtol=0)


def test_sliced_and_classic_attention_equal_default() -> None:
    unet = _unet(attention_head_dim=4, upcast_attention=True)
    inputs = _inputs()
    with torch.no_grad():
        expected = unet(**inputs).sample
        unet.set_attention_slice("max")
        assert all(isinstance(p, SlicedAttnProcessor) for p in unet.attn_processors.values())
        torch.testing.assert_close(unet(**inputs).sample, expected, atol=1e-5, rtol=0)
        unet.set_attn_processor(AttnProcessor())
        torch.testing.assert_close(unet(**inputs).sample, expected, atol=1e-5, rtol=0)
        unet.set_default_attn_processor()
        torch.testing.assert_close(unet(**inputs).sample, expected, atol=0, rtol=0)


def test_text_time_conditioning_changes_the_output() -> None:
    unet = _unet(
        addition_embed_type="text_time",
        addition_time_embed_dim=4,
        projection_class_embeddings_input_dim=6 + 6 * 4,
    )
    inputs = _inputs()
    with pytest.raises(ValueError, match="time_ids"):
        unet(**inputs, added_cond_kwargs={"text_embeds": torch.zeros(2, 6)})
    time_ids = torch.tensor([[64.0, 64, 0, 0, 64, 64]] * 2)
    with torch.no_grad():
        a = unet(
            **inputs, added_cond_kwargs={"text_embeds": torch.zeros(2, 6), "time_ids": time_ids}
        )
        b = unet(
            **inputs, added_cond_kwargs={"text_embeds": torch.zeros(2, 6), "time_ids": time_ids * 2}
        )
    assert not torch.allclose(a.sample, b.sample)


def test_class_labels_are_required_when_configured() -> None:
    unet = _unet(num_class_embeds=5)
    with pytest.raises(ValueError, match="class_labels"):
        unet(**_inputs())
    assert unet(**_inputs(), class_labels=torch.tensor([0, 4])).sample.shape == (2, 4, 8, 8)


def test_save_and_load_round_trip_keeps_weights_config_and_outputs(tmp_path) -> None:
    with pytest.warns(DiffusekitWarning, match="extra_key_from_a_newer_release"):
        unet = _unet(use_linear_projection=True, extra_key_from_a_newer_release=3)
    unet.save_pretrained(tmp_path)
    loaded = UNet2DConditionModel.from_pretrained(tmp_path)
    assert loaded.config.extra_key_from_a_newer_release == 3
    assert loaded.config.use_linear_projection is True
    inputs = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).sample, unet(**inputs).sample, atol=0, rtol=0)


def test_half_precision_runs_and_stays_close(tmp_path) -> None:
    unet = _unet(upcast_attention=True)
    unet.save_pretrained(tmp_path)
    half = UNet2DConditionModel.from_pretrained(tmp_path, torch_dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16
    inputs = _inputs()
    with torch.no_grad():
        expected = unet(**inputs).sample
        low = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in inputs.items()}
        out = half(**low).sample
    assert out.dtype == torch.bfloat16
    assert (out.float() - expected).abs().max().item() < 0.1


class _Recording(AttnProcessor2_0):
    def __init__(self) -> None:
        self.seen: list[dict] = []

    def __call__(
        self,
        attn,
        hidden_states,
        encoder_hidden_states=None,
        attention_mask=None,
        temb=None,
        **kwargs,
    ):  # type: ignore[no-untyped-def]
        self.seen.append(kwargs)
        return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


def test_cross_attention_kwargs_reach_every_processor_call() -> None:
    unet = _unet()
    recorder = _Recording()
    unet.set_attn_processor(recorder)
    with torch.no_grad():
        expected = _unet()(**_inputs()).sample
        out = unet(**_inputs(), cross_attention_kwargs={"scale": 0.5}).sample
    assert len(recorder.seen) == len(unet.attn_processors) == 8
    assert recorder.seen == [{"scale": 0.5}] * 8
    torch.testing.assert_close(out, expected, atol=0, rtol=0)
