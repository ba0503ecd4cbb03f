"""Photon-ID BDT baseline: training rows, separation on an independent sample, JSON save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from egml.baselines.photon_bdt import (
    PHOTON_ID_FEATURES,
    PhotonIDBaselines,
    PhotonIDBDT,
    mass_point_mask,
    training_rows,
)
from egml.evaluation.roc import auc

MASSES = np.array([0.1, 0.2, 0.4, 0.6, 0.8, 1.0], np.float32)


def _columns(n: int, seed: int) -> dict[str, np.ndarray]:
    """Toy candidates: labels 0/1/2, the signal narrower in sieie and with higher r9."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, n).astype(np.int32)
    cols = {f: rng.normal(0, 1, n).astype(np.float32) for f in PHOTON_ID_FEATURES}
    cols["sieie"] = np.where(label == 2, rng.normal(0.0100, 0.0010, n), rng.normal(0.0088, 0.0008, n)).astype(
        np.float32
    )
    cols["r9"] = np.where(label == 2, rng.uniform(0.5, 0.95, n), rng.uniform(0.8, 1.0, n)).astype(np.float32)
    cols["label"] = label
    cols["A_mass"] = np.where(label == 1, MASSES[rng.integers(0, 6, n)], 0).astype(np.float32)
    cols["pt"] = rng.uniform(15, 100, n).astype(np.float32)
    cols["eta"] = rng.uniform(-1.44, 1.44, n).astype(np.float32)
    cols["image"] = np.zeros((n, 2, 2), np.float32)  # 2-D columns are ignored
    return cols


def test_training_rows_keep_training_masses_and_the_two_classes() -> None:
    label = np.array([0, 1, 1, 1, 2, 2])
    mass = np.array([0, 0.1, 0.2, 0.8, 0, 0], np.float32)
    use, sig = training_rows(label, mass, (1,), (2,), (0.1, 0.4, 0.6, 1.0))
    assert use.tolist() == [False, True, False, False, True, True]
    assert sig.tolist() == [False, True, True, True, False, False]
    assert mass_point_mask(np.float32([0.2, 0.3]), [0.2]).tolist() == [True, False]


def test_bdt_separates_on_an_independent_sample_and_round_trips(tmp_path) -> None:
    reweight = {"variables": ["pt", "eta"], "edges": {"pt": [15, 40, 100], "eta": [0, 0.7, 1.44]}}
    bdt = PhotonIDBDT(n_estimators=40, reweight=reweight).fit(_columns(3000, 1))
    test = _columns(2000, 2)
    score = bdt.predict(test)["baseline_score"]
    assert score.shape == (2000,) and score.dtype == np.float32
    both = test["label"] != 0
    assert auc(score[both], (test["label"] == 1)[both]) > 0.85
    path = bdt.save(tmp_path)
    assert path.name == "photon_id_bdt.json" and json.loads(path.read_text())  # valid JSON model
    assert not list(tmp_path.glob(".photon_id_bdt.*"))  # no temp file left
    again = PhotonIDBDT.load(path).predict(test)["baseline_score"]
    np.testing.assert_array_equal(again, score)


def test_untrained_masses_do_not_enter_the_fit() -> None:
    cols = _columns(1500, 3)
    only_train = PhotonIDBDT(n_estimators=10).fit(cols).predict(cols)["baseline_score"]
    cols2 = {k: v.copy() for k, v in cols.items()}
    untrained = (cols2["label"] == 1) & mass_point_mask(cols2["A_mass"], [0.2, 0.8])
    cols2["r9"][untrained] = 0.0  # changing rows outside the training set changes nothing
    again = PhotonIDBDT(n_estimators=10).fit(cols2).predict(cols)["baseline_score"]
    np.testing.assert_array_equal(only_train, again)


def test_standard_id_trains_on_prompt_photons_and_both_baselines_round_trip(tmp_path) -> None:
    cols = _columns(3000, 4)
    both = PhotonIDBaselines(retrained={"train_masses": [0.1, 0.4, 0.6, 1.0]}, n_estimators=20).fit(cols)
    out = both.predict(cols)
    assert set(out) == {"baseline_score", "baseline_retrained_score"}
    # the standard ID sees single photons (0) vs fakes (2): merged-photon rows do not enter its fit
    cols2 = {k: v.copy() for k, v in cols.items()}
    cols2["r9"][cols2["label"] == 1] = 0.0
    again = PhotonIDBaselines(retrained=None, n_estimators=20).fit(cols2).predict(cols)
    assert set(again) == {"baseline_score"}
    np.testing.assert_array_equal(again["baseline_score"], out["baseline_score"])
    test = _columns(2000, 5)
    prompt = test["label"] != 1
    assert auc(both.predict(test)["baseline_score"][prompt], (test["label"] == 0)[prompt]) > 0.85
    both.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"photon_id_bdt.json", "photon_id_bdt_retrained.json"}
    loaded = PhotonIDBaselines.load(tmp_path, retrained={}, n_estimators=20).predict(cols)
    for key, score in out.items():
        np.testing.assert_array_equal(loaded[key], score)
    (tmp_path / "photon_id_bdt_retrained.json").unlink()  # a run without the retrained BDT
    assert set(PhotonIDBaselines.load(tmp_path, retrained={}).predict(cols)) == {"baseline_score"}


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="before fit"):
        PhotonIDBDT().predict(_columns(10, 0))
    cols = _columns(100, 0)
    del cols["sieie"]
    with pytest.raises(ValueError, match="'sieie' is missing"):
        PhotonIDBDT(n_estimators=2).fit(cols)
    with pytest.raises(ValueError, match="overlap"):
        PhotonIDBDT(signal_labels=(1,), background_labels=(1, 2))
