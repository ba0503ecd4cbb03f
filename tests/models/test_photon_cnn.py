"""Photon-ID CNN: the seed configuration matches reference 000's Keras summary; variants build and run."""

import pytest
import torch

from egml.models.photon_cnn import IMAGE_SHAPES, PhotonCNN, count_parameters


def _batch(n: int, names=IMAGE_SHAPES) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    out = {name: torch.rand(n, *IMAGE_SHAPES[name], generator=gen) for name in names}
    out["pt"] = torch.rand(n, generator=gen) * 100
    out["eta"] = torch.rand(n, generator=gen) * 2.4
    return out


def test_seed_model_has_reference_parameter_count() -> None:
    model = PhotonCNN()
    # "Total params: 1248513" (reference 000, back-up, Keras model summary)
    assert count_parameters(model) == 1_248_513
    # Flatten sizes of the summary: Flat1 1664, Flat2 1536, Flat3 768
    assert [s.out_features for s in model.stems.values()] == [1664, 1536, 768]


def test_seed_model_layer_output_shapes_match_keras_summary() -> None:
    model = PhotonCNN()
    shapes = []
    for name in ("img_L1", "img_L2", "img_L3"):
        x = torch.zeros(1, 1, *IMAGE_SHAPES[name])
        for layer in model.stems[name].net:
            x = layer(x)
            if isinstance(layer, torch.nn.Conv2d | torch.nn.MaxPool2d):
                shapes.append(tuple(x.shape[2:]))
    expected = [
        (1, 55),
        (1, 27),
        (1, 26),
        (1, 13),
        (10, 6),
        (5, 6),
        (4, 6),
        (2, 6),
        (10, 3),
        (5, 3),
        (4, 3),
        (2, 3),
    ]
    assert shapes == expected


@pytest.mark.parametrize("heads,n_out", [("single", 1), ("layer_split", 3), ("disco", 3)])
def test_heads_give_logits_per_output(heads: str, n_out: int) -> None:
    model = PhotonCNN(heads=heads, conv_filters=(8, 8), dense_widths=(16, 16))
    out = model(_batch(5))
    assert out.shape == (5, n_out)
    assert len(model.output_names) == n_out


def test_strips_output_depends_only_on_layer1() -> None:
    model = PhotonCNN(heads="layer_split", conv_filters=(8, 8), dense_widths=(16,)).eval()
    batch = _batch(4)
    base = model(batch)
    changed = dict(batch, img_L2=batch["img_L2"] + 5.0)
    out = model(changed)
    torch.testing.assert_close(out[:, 1], base[:, 1])  # strips: L1 only
    assert not torch.allclose(out[:, 2], base[:, 2])  # rest sees L2
    assert not torch.allclose(out[:, 0], base[:, 0])


def test_variants_with_extra_layers_scalars_norm_dropout_train_and_backprop() -> None:
    model = PhotonCNN(
        inputs=("img_PS", "img_L1", "img_L2", "img_L3", "img_Had"),
        conv_filters=(8, 8, 8),
        dense_widths=(32, 16),
        heads="disco",
        dropout=0.2,
        norm="batch",
        input_transform="log1p",
        scalar_fields=("pt", "eta"),
    )
    out = model(_batch(6))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_noise_only_in_training_and_eval_deterministic() -> None:
    model = PhotonCNN(conv_filters=(4, 4), dense_widths=(8, 8), noise_std=1.0)
    batch = _batch(3)
    model.eval()
    torch.testing.assert_close(model(batch), model(batch))
    model.train()
    torch.manual_seed(1)
    assert not torch.allclose(model(batch), model(batch))


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="unknown"):
        PhotonCNN(inputs=("img_L9",))
    with pytest.raises(ValueError, match="expected"):
        PhotonCNN(conv_filters=(4, 4), dense_widths=(8,))(
            {
                "img_L1": torch.zeros(2, 56, 2),
                "img_L2": torch.zeros(2, 11, 7),
                "img_L3": torch.zeros(2, 11, 4),
            }
        )
    with pytest.raises(ValueError, match="lacks"):
        PhotonCNN(conv_filters=(4, 4), dense_widths=(8,))({"img_L1": torch.zeros(2, 2, 56)})


def test_scalar_inputs_are_encoded_scale_free_and_change_the_output() -> None:
    model = PhotonCNN(conv_filters=(4, 4), dense_widths=(8,), scalar_fields=("pt", "eta", "conv_type")).eval()
    batch = _batch(4)
    batch["conv_type"] = torch.tensor([0.0, 1.0, 2.0, 0.0])
    base = model(batch)
    # ln(pT/25): 1 TeV stays O(1) and pT ≤ 1 GeV is clamped, never -inf
    extreme = model(dict(batch, pt=torch.tensor([1000.0, 0.0, 25.0, 10.0])))
    assert torch.isfinite(extreme).all()
    assert not torch.allclose(extreme, base)
    # η enters as |η|, conversion as converted yes/no (convType 1 and 2 give the same output)
    torch.testing.assert_close(model(dict(batch, eta=-batch["eta"])), base)
    same_conv = dict(batch, conv_type=torch.tensor([0.0, 2.0, 1.0, 0.0]))
    torch.testing.assert_close(model(same_conv), base)


def test_reference_experiment_config_builds_the_reference_model() -> None:
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from egml.cli import CONFIG_DIR

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["task=photon_cnn", "experiment=photon_cnn_reference"])
    model = instantiate(cfg.model)
    assert count_parameters(model) == 1_248_513
    assert model.input_transform == "none" and model.scalar_fields == () and cfg.task.module.scheduler is None
    assert list(cfg.data.inputs) == ["img_L1", "img_L2", "img_L3"]
    assert not any(isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d) for m in model.modules())
