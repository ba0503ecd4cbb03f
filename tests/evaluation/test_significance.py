"""S/B at a working point: direct counting, stated normalisation, Asimov limit."""

import numpy as np
import pytest

from egml.evaluation.significance import asimov_significance, signal_to_background, signal_to_background_table


def _sample(seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(3000, int), np.zeros(6000, int)]
    scores = rng.normal(labels * 2.0, 1.0)
    return scores, labels


def test_as_sampled_normalisation_counts_entries() -> None:
    scores, labels = _sample()
    out = signal_to_background(scores, labels, threshold=1.0)
    n_s = np.sum((scores >= 1.0) & (labels == 1))
    n_b = np.sum((scores >= 1.0) & (labels == 0))
    assert out["s_over_b"] == pytest.approx(n_s / n_b)
    assert "as sampled" in out["normalisation"]
    assert out["s_over_b_err"] > 0


def test_given_yields_rescale() -> None:
    scores, labels = _sample()
    base = signal_to_background(scores, labels, target_efficiency=0.8)
    phys = signal_to_background(
        scores, labels, target_efficiency=0.8, signal_yield=10.0, background_yield=1e4
    )
    ratio = (10.0 / 1e4) / (3000 / 6000)
    assert phys["s_over_b"] == pytest.approx(base["s_over_b"] * ratio)
    assert "given" in phys["normalisation"]
    assert phys["signal_efficiency"] == pytest.approx(0.8, abs=1e-3)


def test_table_tightens_with_lower_efficiency() -> None:
    scores, labels = _sample()
    rows = signal_to_background_table(scores, labels)
    assert [r["target_efficiency"] for r in rows] == [0.9, 0.8, 0.7]
    sb = [r["s_over_b"] for r in rows]
    assert sb[0] < sb[1] < sb[2]


def test_asimov_small_signal_limit() -> None:
    assert asimov_significance(1.0, 1e4) == pytest.approx(1.0 / 100.0, rel=1e-3)
    assert asimov_significance(5.0, 0.0) == float("inf")
    with pytest.raises(ValueError, match="exactly one"):
        signal_to_background([0.1, 0.9], [0, 1])
