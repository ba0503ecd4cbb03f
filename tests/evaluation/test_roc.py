"""Weighted ROC, AUC and rejection at fixed efficiency against direct counting."""

import numpy as np
import pytest

from egml.evaluation.roc import (
    auc,
    binomial_efficiency,
    efficiency_at_rejection,
    rejection_at_efficiency,
    roc_curve,
)


def _sample(n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = rng.normal(loc=labels * 1.5, size=n)
    weights = rng.uniform(0.5, 2.0, n)
    return scores, labels, weights


def test_auc_equals_pairwise_probability_with_weights_and_ties() -> None:
    scores, labels, weights = _sample(600)
    scores = np.round(scores, 1)  # create ties
    s, b = labels == 1, labels == 0
    diff = scores[s][:, None] - scores[b][None, :]
    ww = weights[s][:, None] * weights[b][None, :]
    expected = (np.sum(ww * (diff > 0)) + 0.5 * np.sum(ww * (diff == 0))) / ww.sum()
    assert auc(scores, labels, weights) == pytest.approx(expected, rel=1e-12)


def test_auc_of_gaussian_separation() -> None:
    from scipy.stats import norm

    scores, labels, _ = _sample(40000, 1)
    assert auc(scores, labels) == pytest.approx(norm.cdf(1.5 / np.sqrt(2)), abs=0.01)


def test_roc_points_are_weighted_pass_fractions() -> None:
    scores, labels, weights = _sample()
    roc = roc_curve(scores, labels, weights)
    k = len(roc.thresholds) // 3
    t = roc.thresholds[k]
    sig = labels == 1
    assert roc.signal_efficiency[k] == pytest.approx(weights[sig & (scores >= t)].sum() / weights[sig].sum())
    assert roc.background_efficiency[k] == pytest.approx(
        weights[~sig & (scores >= t)].sum() / weights[~sig].sum()
    )
    assert np.all(np.diff(roc.signal_efficiency) >= 0) and roc.signal_efficiency[-1] == pytest.approx(1.0)


def test_rejection_at_efficiency_and_inverse() -> None:
    scores, labels, weights = _sample()
    point = rejection_at_efficiency(scores, labels, 0.7, weights)
    assert point["signal_efficiency"] == pytest.approx(0.7, abs=2e-3)
    passed = scores >= point["threshold"]
    bkg = labels == 0
    assert point["rejection"] == pytest.approx(weights[bkg].sum() / weights[bkg & passed].sum())
    back = efficiency_at_rejection(scores, labels, point["rejection"], weights)
    assert back["signal_efficiency"] == pytest.approx(0.7, abs=2e-3)
    assert back["rejection"] >= point["rejection"] * (1 - 1e-9)


def test_binomial_error_unit_weights() -> None:
    passed = np.r_[np.ones(30, bool), np.zeros(70, bool)]
    eff, err = binomial_efficiency(passed)
    assert eff == pytest.approx(0.3)
    assert err == pytest.approx(np.sqrt(0.3 * 0.7 / 100))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="both"):
        auc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="finite"):
        auc([np.nan, 0.2], [0, 1])
