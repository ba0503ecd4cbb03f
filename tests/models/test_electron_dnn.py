"""Electron DNN: reference architecture, batch-dict input, stored normalisation, learns a toy."""

import numpy as np
import pytest
import torch

from egml.models.electron_dnn import ElectronDNN
from egml.models.normalization import FeatureNormalizer


def test_reference_architecture() -> None:
    model = ElectronDNN(n_features=23)
    linears = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [256] * 5 + [6]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.net) == 5
    assert sum(isinstance(m, torch.nn.LeakyReLU) for m in model.net) == 5
    assert model.output_names == ("El", "CF", "PC", "HF", "LFEg", "LFH")


def test_batch_dict_and_tensor_agree() -> None:
    names = ("Rhad", "Reta", "EoverP")
    model = ElectronDNN(feature_names=names, depth=2, width=8).eval()
    batch = {n: torch.randn(7, generator=torch.Generator().manual_seed(i)) for i, n in enumerate(names)}
    x = torch.stack([batch[n] for n in names], dim=1)
    torch.testing.assert_close(model(batch), model(x))
    with pytest.raises(ValueError, match="lacks"):
        model({"Rhad": batch["Rhad"]})


def test_normalizer_fit_and_refuses_zero_spread() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(1000, 3))
    norm = FeatureNormalizer(3)
    norm.fit(x)
    z = norm(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)
    x[:, 1] = 2.0
    with pytest.raises(ValueError, match=r"features \[1\]"):
        norm.fit(x)


def test_learns_six_separable_classes() -> None:
    torch.manual_seed(0)
    centres = torch.randn(6, 10) * 3
    y = torch.randint(0, 6, (600,))
    x = centres[y] + torch.randn(600, 10)
    model = ElectronDNN(n_features=10, depth=2, width=32, dropout=0.1)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    assert (model(x).argmax(1) == y).float().mean() > 0.9
