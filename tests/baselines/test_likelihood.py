"""The electron likelihood baseline: separation on held-out data, WP closure, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from egml.baselines.likelihood import (
    FILE_NAME,
    LH_FIELDS,
    ElectronLikelihood,
    composition_weights,
    hit_requirements,
)
from egml.evaluation.roc import auc


def toy_columns(n_per_cell: int, seed: int) -> dict[str, np.ndarray]:
    """Signal (El, some CF) and four background classes in 2 E_T × 2 |η| LH bins.

    Signal is narrower/closer to the electron values in several variables; a few per cent of the
    signal fails the hit requirements, as real electrons do.
    """
    rng = np.random.default_rng(seed)
    n = 4 * n_per_cell
    label = rng.choice(6, size=n, p=[0.45, 0.05, 0.125, 0.125, 0.125, 0.125]).astype(np.int32)
    sig = label <= 1
    et = np.where(rng.random(n) < 0.5, 25.0, 50.0) + rng.uniform(-4, 4, n)  # bins 20–30 and 40+
    eta = np.where(rng.random(n) < 0.5, 0.3, 1.7) * rng.choice([-1, 1], n)  # bins 0.1–0.6 and 1.52–1.81

    def var(mu_s: float, sd_s: float, mu_b: float, sd_b: float) -> np.ndarray:
        return np.where(sig, rng.normal(mu_s, sd_s, n), rng.normal(mu_b, sd_b, n)).astype(np.float32)

    cols = {
        "label": label,
        "et": et.astype(np.float32),
        "eta": eta.astype(np.float32),
        "Rhad1": var(0.0, 0.01, 0.03, 0.03),
        "Rhad": var(0.0, 0.01, 0.04, 0.04),
        "f3": var(0.01, 0.01, 0.03, 0.02),
        "Reta": var(0.95, 0.01, 0.90, 0.04),
        "Rphi": var(0.95, 0.02, 0.90, 0.05),
        "weta2": var(0.010, 0.001, 0.012, 0.002),
        "f1": var(0.25, 0.1, 0.3, 0.12),
        "Eratio": var(0.95, 0.03, 0.8, 0.15),
        "deltaEta1": var(0.0, 0.003, 0.0, 0.008),
        "deltaPhiRes": var(0.0, 0.005, 0.0, 0.015),
        "dPOverP": var(0.2, 0.2, 0.1, 0.2),
        "d0": var(0.0, 0.05, 0.0, 0.2),
        "d0Sig": np.abs(var(0.0, 1.0, 0.0, 4.0)),
        "trans_TRTPID": var(0.1, 0.1, -0.15, 0.1),
        "nSi": np.where(rng.random(n) < 0.01, 5, 9).astype(np.int32),
        "nPix": np.full(n, 4, np.int32),
        "nBlayer": np.where(rng.random(n) < np.where(sig, 0.03, 0.3), 0, 1).astype(np.int32),
    }
    assert set(LH_FIELDS) <= set(cols)
    return cols


def test_fits_on_training_and_separates_held_out() -> None:
    train, test = toy_columns(3000, seed=1), toy_columns(3000, seed=2)
    lh = ElectronLikelihood(min_entries=50).fit(train)
    pred = lh.predict(test)
    is_sig = test["label"] <= 1
    assert pred["lh_dprime"].shape == is_sig.shape and np.all(np.isfinite(pred["lh_dprime"]))
    assert auc(pred["lh_dprime"], is_sig) > 0.9
    # tighter working points pass fewer signal candidates
    effs = [pred[f"lh_{wp}"][is_sig].mean() for wp in ("loose", "medium", "tight")]
    assert effs[0] > effs[1] > effs[2]


def test_working_point_efficiency_on_independent_sample() -> None:
    """Per (E_T, |η|) bin with ≥ 1000 signal entries, the efficiency on an independent sample
    (El ∪ CF with physical-mix weights, hit requirements included) is the target ± 0.01."""
    lh = ElectronLikelihood().fit(toy_columns(50000, seed=3))
    check = toy_columns(50000, seed=4)
    sig = check["label"] <= 1
    w = composition_weights(check["label"], (0, 1), lh.class_mix)
    decisions = lh.decisions(check)
    kin = {"et": check["et"], "abs_eta": np.abs(check["eta"])}
    n_checked = 0
    for wp, target in lh.targets.items():
        index = lh.working_points[wp].bin_index(kin)
        for b in np.unique(index[sig]):  # loop over the 4 occupied bins
            rows = sig & (index == b)
            assert rows.sum() >= 1000
            eff = np.average(decisions[wp][rows], weights=w[rows])
            assert abs(eff - target) < 0.01, (wp, b, eff)
            n_checked += 1
    assert n_checked == 12
    # the nBlayer requirement applies to Medium and Tight only
    no_blayer = sig & (check["nBlayer"] == 0)
    assert decisions["loose"][no_blayer].any() and not decisions["medium"][no_blayer].any()


def test_hit_requirements() -> None:
    cols = {"nSi": np.array([7, 6, 9, 9]), "nPix": np.array([2, 3, 1, 4]), "nBlayer": np.array([0, 1, 1, 1])}
    assert hit_requirements(cols, blayer=False).tolist() == [True, False, False, True]
    assert hit_requirements(cols, blayer=True).tolist() == [False, False, False, True]


def test_save_and_load_give_identical_predictions(tmp_path) -> None:
    train, test = toy_columns(1000, seed=5), toy_columns(500, seed=6)
    lh = ElectronLikelihood(n_bins=20, min_entries=20).fit(train)
    path = lh.save(tmp_path)
    assert path.name == FILE_NAME
    again = ElectronLikelihood.load(tmp_path)
    a, b = lh.predict(test), again.predict(test)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_bad_inputs_are_refused() -> None:
    cols = toy_columns(200, seed=7)
    with pytest.raises(ValueError, match="likelihood variables"):
        ElectronLikelihood(variables=["Reta", "not_a_variable"])
    with pytest.raises(ValueError, match="needs fields"):
        ElectronLikelihood().fit({k: v for k, v in cols.items() if k != "d0Sig"})
    with pytest.raises(ValueError, match="not fitted"):
        ElectronLikelihood().discriminant(cols)
    only_signal = {k: v[cols["label"] <= 1] for k, v in cols.items()}
    with pytest.raises(ValueError, match="signal and"):
        ElectronLikelihood().fit(only_signal)
