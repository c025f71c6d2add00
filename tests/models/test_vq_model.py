"""VQModel and VectorQuantizer on their own: quantization, shapes, options, save/load."""

from __future__ import annotations

import pytest
import torch
from diffusekit_models.vq_model import VQModel

from diffusekit.errors import ConfigError

TINY = {
    "block_out_channels": [32, 64],
    "norm_num_groups": 32,
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
    "latent_channels": 3,
    "num_vq_embeddings": 16,
    "vq_embed_dim": 4,
}


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def test_vq_model_round_trip_shapes():
    model = VQModel(**TINY).eval()
    images = _randn(2, 3, 16, 16)
    with torch.no_grad():
        latents = model.encode(images).latents
        out = model.decode(latents)
        full = model(images)
    assert latents.shape == (2, 4, 8, 8)
    assert out.sample.shape == (2, 3, 16, 16)
    assert out.commit_loss.shape == ()
    torch.testing.assert_close(full.sample, out.sample)


def test_decode_quantizes_unless_forced_not_to():
    model = VQModel(**TINY).eval()
    latents = _randn(1, 4, 4, 4) * 0.05
    with torch.no_grad():
        quantized, _, _ = model.quantize(latents)
        via_quantizer = model.decode(latents).sample
        raw = model.decode(latents, force_not_quantize=True)
        pre_quantized = model.decode(quantized, force_not_quantize=True).sample
    torch.testing.assert_close(via_quantizer, pre_quantized)
    assert not torch.allclose(raw.sample, via_quantizer)
    assert torch.equal(raw.commit_loss, torch.zeros(1))


def test_lookup_from_codebook_decodes_indices():
    model = VQModel(**{**TINY, "lookup_from_codebook": True}).eval()
    indices = torch.tensor([[0, 3], [5, 15]]).flatten()
    with torch.no_grad():
        from_indices = model.decode(indices, force_not_quantize=True, shape=(1, 2, 2, 4)).sample
        entries = model.quantize.embedding.weight[indices].view(1, 2, 2, 4).permute(0, 3, 1, 2)
        expected = model.decoder(model.post_quant_conv(entries))
    torch.testing.assert_close(from_indices, expected)


def test_return_dict_false_gives_tuples():
    model = VQModel(**TINY).eval()
    with torch.no_grad():
        (latents,) = model.encode(_randn(1, 3, 8, 8), return_dict=False)
        sample, loss = model.decode(latents, return_dict=False)
    assert sample.shape == (1, 3, 8, 8)
    assert loss.ndim == 0


def test_float64_model():
    model = VQModel(**TINY).eval().to(torch.float64)
    with torch.no_grad():
        out = model(_randn(1, 3, 8, 8).double()).sample
    assert out.dtype == torch.float64


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"up_block_types": ["UpDecoderBlock2D"]}, "up_block_types"),
        ({"norm_type": "batch"}, "norm_type"),
        ({"act_fn": "tanhh"}, "act_fn"),
    ],
)
def test_bad_configs_are_rejected_naming_the_field(override, field):
    with pytest.raises(ConfigError, match=field):
        VQModel(**{**TINY, **override})


def test_scaling_factor_is_kept_in_the_config():
    assert VQModel(**TINY).config.scaling_factor == 0.18215
    assert VQModel(**{**TINY, "scaling_factor": 0.5}).config.scaling_factor == 0.5


def test_save_and_load_round_trip(tmp_path):
    model = VQModel(**TINY).eval()
    model.save_pretrained(tmp_path)
    loaded = VQModel.from_pretrained(tmp_path).eval()
    images = _randn(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images).sample, model(images).sample)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_registered_as_the_reference_class_name():
    from diffusekit import registry

    assert registry.resolve("diffusers", "VQModel") is VQModel


def test_decode_returns_the_autoencoders_decoder_output():
    from diffusekit_models.autoencoder_kl import DecoderOutput

    model = VQModel(**TINY).eval()
    with torch.no_grad():
        out = model.decode(_randn(1, 4, 4, 4))
    assert isinstance(out, DecoderOutput)
