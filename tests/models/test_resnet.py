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


def test_bad_input() -> None:
    model = ResNetTagger(("SC_energy",), widths=(8,), blocks_per_stage=1)
    with pytest.raises(ValueError, match="expected"):
        model({"SC_energy": torch.zeros(2, 16, 16)})
    with pytest.raises(ValueError, match="lacks"):
        model({"TracksPt": torch.zeros(2, 32, 32)})
