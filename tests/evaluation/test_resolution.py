"""Resolution metrics against numpy percentiles, normal-distribution limits and weights."""

import numpy as np
import pytest

from egml.evaluation.resolution import (
    binned_resolution,
    iqr_resolution,
    median_response,
    sigma_eff,
    weighted_quantile,
)


def test_iqr_resolution_equals_numpy_percentiles() -> None:
    rng = np.random.default_rng(0)
    ratio = rng.normal(0.97, 0.02, 5001) + rng.exponential(0.01, 5001)
    q25, q75 = np.percentile(ratio, [25, 75])
    assert iqr_resolution(ratio) == pytest.approx((q75 - q25) / (1.349 * ratio.mean()), rel=1e-12)
    assert median_response(ratio) == pytest.approx(np.median(ratio), rel=1e-12)
    np.testing.assert_allclose(
        weighted_quantile(ratio, [0.1, 0.9]), np.quantile(ratio, [0.1, 0.9]), rtol=1e-12
    )


def test_normal_limits() -> None:
    rng = np.random.default_rng(1)
    ratio = rng.normal(1.0, 0.03, 200_000)
    assert iqr_resolution(ratio) == pytest.approx(0.03, rel=0.01)
    assert sigma_eff(ratio) == pytest.approx(0.03, rel=0.01)


def test_sigma_eff_smallest_interval_by_brute_force() -> None:
    rng = np.random.default_rng(2)
    x = np.sort(np.r_[rng.normal(1, 0.01, 300), rng.normal(0.9, 0.05, 100)])
    k = int(np.ceil(0.683 * x.size))
    brute = min(x[i + k - 1] - x[i] for i in range(x.size - k + 1))
    assert sigma_eff(x, normalise=False) == pytest.approx(brute / 2, rel=1e-12)
    assert sigma_eff(x) == pytest.approx(brute / 2 / np.median(x), rel=1e-12)
    # a tail changes σ_eff far less than the RMS
    assert sigma_eff(x, normalise=False) < 0.5 * x.std()


def test_integer_weights_close_to_repetition() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 0.05, 4000)
    reps = rng.integers(1, 4, x.size)
    rep = np.repeat(x, reps)
    assert iqr_resolution(x, reps) == pytest.approx(iqr_resolution(rep), rel=5e-3)
    assert sigma_eff(x, reps) == pytest.approx(sigma_eff(rep), rel=5e-3)
    assert median_response(x, reps) == pytest.approx(np.median(rep), abs=1e-3)


def test_binned_resolution_matches_selection() -> None:
    rng = np.random.default_rng(4)
    n = 20_000
    energy = rng.uniform(10, 100, n)
    eta = rng.uniform(-2.4, 2.4, n)
    ratio = rng.normal(1.0, 0.1 / np.sqrt(energy))
    rows = binned_resolution(
        ratio, {"E": energy, "eta": eta}, {"E": [10, 50, 100], "abs_eta": [0, 1.37, 2.5]}, min_entries=10
    )
    assert len(rows) == 4
    sel = (energy >= 50) & (np.abs(eta) < 1.37)
    row = rows[2]
    assert (row["E_low"], row["abs_eta_high"]) == (50.0, 1.37)
    assert row["n"] == sel.sum()
    assert row["iqr_resolution"] == pytest.approx(iqr_resolution(ratio[sel]), rel=1e-12)
    assert rows[0]["iqr_resolution"] > row["iqr_resolution"]  # low energy is worse


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        iqr_resolution([1.0, np.nan, 1.1])
    with pytest.raises(ValueError, match="at least 2"):
        median_response([1.0])
