"""Reweighted background pT and (pT, |η|) histograms agree with signal within statistical errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from egml.data import DataError, Reweighter

PT_BINS = [20, 25, 30, 40, 50, 65, 80, 100, 150]
ETA_BINS = [0, 0.6, 1.37, 1.52, 2.0, 2.47]


def sample(n: int, seed: int):
    """Signal: harder pT, central; background: softer pT, wider η, correlated with pT."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.4).astype(np.int32)
    pt = np.where(label == 1, 20 + rng.exponential(30, n), 20 + rng.exponential(15, n))
    eta = np.where(label == 1, rng.normal(0, 1.0, n), rng.normal(0, 0.8 + 30 / pt, n))  # full support
    return pt.astype(np.float32), np.clip(eta, -2.46, 2.46).astype(np.float32), label


def chi2_pvalue(h_bkg, w2_bkg, h_sig):
    """Compare shapes (both normalised to unit sum) with errors from sum w² and Poisson N."""
    sb, ss = h_bkg.sum(), h_sig.sum()
    diff = h_bkg / sb - h_sig / ss
    var = w2_bkg / sb**2 + h_sig / ss**2
    used = var > 0
    chi2 = float((diff[used] ** 2 / var[used]).sum())
    return stats.chi2.sf(chi2, used.sum() - 1)


@pytest.mark.parametrize("two_d", [False, True])
def test_reweighted_background_matches_signal(two_d):
    pt, eta, label = sample(60_000, 1)  # fit sample (training split)
    rw = Reweighter.fit(
        pt, label, eta if two_d else None, signal_labels=[1], pt_bins=PT_BINS, eta_bins=ETA_BINS
    )
    pt2, eta2, label2 = sample(60_000, 2)  # independent sample: a real statistical test
    w = rw.weights(pt2, label2, eta2 if two_d else None)
    bkg, sig = label2 == 0, label2 == 1
    assert np.all(w[sig] == 1)
    coords = (pt2, np.abs(eta2)) if two_d else (pt2,)
    bins = (PT_BINS, ETA_BINS) if two_d else (PT_BINS,)

    def hist(mask, weights=None):
        return np.histogramdd(np.stack([c[mask] for c in coords], 1), bins=bins, weights=weights)[0].ravel()

    h_sig = hist(sig)
    h_bkg = hist(bkg, w[bkg])
    w2 = hist(bkg, w[bkg] ** 2)
    assert chi2_pvalue(h_bkg, w2, h_sig) > 1e-3
    raw = hist(bkg)
    assert chi2_pvalue(raw, raw, h_sig) < 1e-10  # without weights the shapes clearly differ
    assert np.mean(w[bkg]) == pytest.approx(1.0, abs=0.05)


def test_flat_target_and_class_weights_and_round_trip():
    pt, _, label = sample(40_000, 3)
    rw = Reweighter.fit(pt, label, None, target="flat", pt_bins=PT_BINS, class_weights=True)
    w = rw.weights(pt, label)
    for c in (0, 1):
        sel = label == c
        inside = np.clip(pt[sel], PT_BINS[0], PT_BINS[-1] - 1e-3)  # overflow sits in the edge bins
        h = np.histogram(inside, PT_BINS, weights=w[sel].astype(np.float64))[0]
        filled = np.histogram(inside, PT_BINS)[0] > 0
        np.testing.assert_allclose(h[filled], h[filled].mean(), rtol=1e-5)  # flat on the training sample
    np.testing.assert_allclose(
        w[label == 0].sum(dtype=np.float64), w[label == 1].sum(dtype=np.float64), rtol=1e-5
    )  # balanced classes
    again = Reweighter.from_dict(rw.to_dict())
    np.testing.assert_array_equal(again.weights(pt, label), w)
    with pytest.raises(DataError, match="pt_bins"):
        Reweighter.fit(pt, label, pt_bins=[10, 5])
