"""Every registered generator runs forward and backward on odd sizes, finite, in range."""

from __future__ import annotations

import pytest
import torch

from models.discriminator import PatchDiscriminator
from models.lite_generator import DemodConv2d, fold_demodulation
from models.registry import PRESETS, GeneratorConfig, available_architectures, create_generator


@pytest.mark.parametrize("arch", available_architectures())
@pytest.mark.parametrize("shape", [(64, 64), (37, 53), (30, 18)])
def test_generator_keeps_shape_and_range(arch: str, shape: tuple[int, int]) -> None:
    model = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2))
    x = torch.rand(2, 3, *shape) * 2 - 1
    y = model(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    assert y.abs().max() <= 1.0
    y.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_build(preset: str) -> None:
    model = create_generator(preset)
    assert sum(p.numel() for p in model.parameters()) > 10_000


def test_unknown_names_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown generator preset"):
        create_generator("unet_256")
    with pytest.raises(ValueError, match="unknown generator architecture"):
        create_generator(GeneratorConfig("unet"))


def test_patch_discriminator_sees_70px_patches() -> None:
    disc = PatchDiscriminator()
    out = disc(torch.zeros(1, 3, 256, 256))
    assert out.shape == (1, 1, 30, 30)  # the reference 70x70 PatchGAN's grid at 256
    keys = set(disc.state_dict())
    assert {"model.0.weight", "model.2.weight", "model.11.weight"} <= keys


@pytest.mark.parametrize("arch", ["lite", "lite_hq"])
def test_global_tone_starts_as_a_no_op_then_carries_the_input_brightness(arch: str) -> None:
    """Instance norms erase a scene's overall brightness; the global-tone path gives it back.
    At its zero init the generator computes exactly what the same weights without it compute."""
    torch.manual_seed(0)
    toned = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2, global_tone=True)).eval()
    plain = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2)).eval()
    plain.load_state_dict({k: v for k, v in toned.state_dict().items() if not k.startswith("tone.")})
    scene = torch.rand(1, 3, 48, 64) * 0.5
    dark, bright = scene - 0.75, scene + 0.25  # the same picture, 0.5 (a quarter of the range) brighter
    with torch.no_grad():
        assert torch.equal(toned(dark), plain(dark))
        assert float((plain(bright) - plain(dark)).abs().mean()) < 0.02  # the norms erased the change
        toned.tone.weight.copy_(torch.eye(8) * 0.05)
        change = toned(bright).mean() - toned(dark).mean()
    assert abs(float(change)) > 0.02


@pytest.mark.parametrize("arch", ["lite", "lite_hq"])
def test_norm_clip_caps_the_decoder_and_loads_the_same_weights(arch: str) -> None:
    """The cap is parameter-free: weights move between capped and uncapped generators as they are.
    It changes only pixels fed by decoder activations above the cap (a droplet's spike)."""
    torch.manual_seed(0)
    plain = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2)).eval()
    capped = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2, norm_clip=1.5)).eval()
    capped.load_state_dict(plain.state_dict(), strict=True)
    peaks: list[float] = []
    for up in capped.decoder[:2]:
        up.post.register_forward_hook(lambda _m, _i, out: peaks.append(float(out.max())))
    x = torch.rand(1, 3, 40, 48) * 2 - 1
    with torch.no_grad():
        y_plain, y_capped = plain(x), capped(x)
    assert max(peaks) <= 1.5
    assert not torch.equal(y_plain, y_capped)  # random weights put some activations over 1.5 sigma
    loose = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2, norm_clip=1e6)).eval()
    loose.load_state_dict(plain.state_dict())
    with torch.no_grad():
        assert torch.equal(loose(x), y_plain)


def test_norm_clip_is_part_of_the_stored_config() -> None:
    config = GeneratorConfig("lite_hq", ngf=16, n_blocks=9, norm_clip=4.0)
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    assert "norm-clip=4" in config.describe()
    assert GeneratorConfig.from_dict({"arch": "lite", "ngf": 16, "n_blocks": 9}).norm_clip == 0.0


@pytest.mark.parametrize("arch", ["lite", "lite_hq"])
def test_demodulated_decoder_uses_no_image_statistics(arch: str) -> None:
    """With decoder_norm="demod" the decoder has no instance norm, so a spike in one place cannot
    change the picture elsewhere through the statistics; each filter is scaled to unit norm, so
    rescaling a decoder convolution's weights leaves the output as it was."""
    torch.manual_seed(0)
    model = create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2, decoder_norm="demod")).eval()
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in model.decoder.modules())
    x = torch.rand(1, 3, 32, 40) * 2 - 1
    with torch.no_grad():
        y = model(x)
        model.decoder[0].smooth.weight.mul_(7.0)
        assert torch.allclose(model(x), y, atol=1e-5)
    plain_keys = set(create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2)).state_dict())
    assert set(model.state_dict()) == plain_keys
    with pytest.raises(ValueError, match="unknown decoder_norm"):
        create_generator(GeneratorConfig(arch, ngf=8, n_blocks=2, decoder_norm="batch"))


def test_folding_demodulation_keeps_the_output() -> None:
    """For inference the demodulated convolutions become plain ones holding the normalised
    filters: the same picture, with no per-call renormalisation left."""
    torch.manual_seed(0)
    model = create_generator(GeneratorConfig("lite_hq", ngf=8, n_blocks=2, decoder_norm="demod")).eval()
    x = torch.rand(1, 3, 32, 40) * 2 - 1
    with torch.no_grad():
        y = model(x)
        folded = fold_demodulation(model)
        assert not any(isinstance(m, DemodConv2d) for m in folded.modules())
        assert torch.allclose(folded(x), y, atol=1e-5)


@pytest.mark.parametrize("shape", [(64, 64), (37, 53), (30, 18), (5, 7)])
def test_light_generator_infers_with_a_reflected_margin(shape: tuple[int, int]) -> None:
    """Outside training the light generator sees its input with an 8-px reflected margin and
    crops it off again (so the frame its zero-padded layers paint lies outside the picture);
    training pays nothing for it."""
    torch.manual_seed(0)
    model = create_generator(GeneratorConfig("lite_hq", ngf=8, n_blocks=2))
    x = torch.rand(1, 3, *shape) * 2 - 1
    with torch.no_grad():
        trained = model(x)
        model.eval()
        inferred = model(x)
        assert inferred.shape == x.shape
        b = model.inference_border
        if all(side > b and side % 4 == 0 for side in shape):  # else more padding joins the margin
            margin = torch.nn.functional.pad(x, (b, b, b, b), mode="reflect")
            model.inference_border = 0
            assert torch.allclose(inferred, model(margin)[..., b : b + shape[0], b : b + shape[1]], atol=1e-5)
            model.train()
            assert torch.allclose(model(x), trained)
