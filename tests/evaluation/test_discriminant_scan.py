"""D_el fraction scan: finds the background class the signal is hardest to separate from."""

import numpy as np
import pytest

from egml.evaluation.discriminant_scan import background_fraction_grid, scan_d_el_fractions
from egml.evaluation.roc import rejection_at_efficiency
from egml.physics.discriminants import d_el


def test_grid_is_the_simplex() -> None:
    grid = background_fraction_grid(0.5)
    assert grid.shape == (10, 3)
    assert np.all(grid.sum(axis=1) <= 1 + 1e-12)
    with pytest.raises(ValueError, match="step"):
        background_fraction_grid(0.3)


def test_scan_finds_the_true_background_composition() -> None:
    """Calibrated posteriors (uniform training prior) of 2-D Gaussian classes; the test background is
    70 % HF. The optimal D_el denominator is then the true composition, so the scan must weight HF
    most and beat the physical-mix default fractions."""
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    means = 1.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    means[0] = 0.0  # El at the origin
    n = 8000
    labels = np.where(rng.random(n) < 0.3, 0, rng.choice([2, 3, 4, 5], n, p=[0.1, 0.7, 0.1, 0.1]))
    x = means[labels] + rng.normal(size=(n, 2))
    log_lik = -0.5 * ((x[:, None, :] - means[None]) ** 2).sum(axis=2)
    probs = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    best = scan_d_el_fractions(probs, labels, 0.7, f_el_values=(1.0,), step=0.1)
    default = rejection_at_efficiency(d_el(probs), (labels == 0).astype(int), 0.7)
    assert best["rejection"] >= default["rejection"]
    assert best["f_hf"] >= 0.5
