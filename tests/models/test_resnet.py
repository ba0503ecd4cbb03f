"""ResNet tagger: shapes per channel set, flat-image input, binary and three-class heads."""

import pytest
import torch

from egml.models.resnet import ResNetTagger

CHANNEL_SETS = {
    "shower": ("SC_energy",),
    "track": ("TracksPt", "TracksDxy", "TracksDz"),
    "shower+track": ("SC_energy", "TracksPt", "TracksDxy", "TracksDz"),
}


def _batch(n: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {name: torch.rand(n, 32, 32, generator=gen) for name in CHANNEL_SETS["shower+track"]}


@pytest.mark.parametrize("channels", CHANNEL_SETS.values(), ids=CHANNEL_SETS.keys())
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_shapes_per_channel_set(channels: tuple[str, ...], n_outputs: int) -> None:
    model = ResNetTagger(channels, widths=(8, 16), blocks_per_stage=1, n_outputs=n_outputs)
    out = model(_batch())
    assert out.shape == (3, n_outputs)
    assert model.stem[0].in_channels == len(channels)


def test_flat_images_and_tensor_input_agree() -> None:
    model = ResNetTagger(("SC_energy", "TracksPt"), widths=(8,), blocks_per_stage=1).eval()
    batch = _batch()
    flat = {k: v.reshape(3, 1024) for k, v in batch.items()}
    x = torch.stack([batch["SC_energy"], batch["TracksPt"]], dim=1)
    torch.testing.assert_close(model(flat), model(batch))
    torch.testing.assert_close(model(x), model(batch))


def test_default_depth_and_backprop() -> None:
    model = ResNetTagger(widths=(8, 16, 32), blocks_per_stage=2, dropout=0.1)
    assert len(model.blocks) == 6
    model(_batch(4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_log1p_input_transform_is_applied_before_the_stem() -> None:
    torch.manual_seed(0)
    plain = ResNetTagger(("SC_energy",), widths=(4,), blocks_per_stage=1).eval()
    logged = ResNetTagger(("SC_energy",), widths=(4,), blocks_per_stage=1, input_transform="log1p").eval()
    logged.load_state_dict(plain.state_dict())
    x = torch.randn(3, 1, 32, 32) * 50.0  # signed, wide range (tracks' dxy/dz are signed)
    torch.testing.assert_close(logged(x), plain(torch.sign(x) * torch.log1p(x.abs())))
    normed = ResNetTagger(("SC_energy",), widths=(4,), blocks_per_stage=1, input_norm=True)
    assert normed(x).shape == (3, 1) and normed.input_norm.running_mean.abs().sum() > 0
    with pytest.raises(ValueError, match="input_transform"):
        ResNetTagger(("SC_energy",), input_transform="sqrt")


def test_flip_augmentation_acts_in_training_only() -> None:
    torch.manual_seed(1)
    plain = ResNetTagger(("SC_energy",), widths=(4,), blocks_per_stage=1)
    flips = ResNetTagger(("SC_energy",), widths=(4,), blocks_per_stage=1, augment_flips=True)
    flips.load_state_dict(plain.state_dict())
    x = torch.rand(8, 1, 32, 32)
    torch.testing.assert_close(flips.eval()(x), plain.eval()(x))
    symmetric = x + x.flip(-2)
    symmetric = symmetric + symmetric.flip(-1)  # mirror-invariant images: flips change nothing
    torch.testing.assert_close(flips.train()(symmetric), plain.train()(symmetric))
    assert not torch.allclose(flips.train()(x), plain.train()(x))  # P(no flip in 16 draws) = 2^-16


def test_bad_input() -> None:
    model = ResNetTagger(("SC_energy",), widths=(8,), blocks_per_stage=1)
    with pytest.raises(ValueError, match="expected"):
        model({"SC_energy": torch.zeros(2, 16, 16)})
    with pytest.raises(ValueError, match="lacks"):
        model({"TracksPt": torch.zeros(2, 32, 32)})
