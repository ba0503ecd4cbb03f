"""GBDT calibration baseline: §5 inputs, per-type fit, improvement over raw, JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from egml.baselines.calibration_bdt import CalibrationBDT, mva_features
from egml.evaluation.resolution import iqr_resolution, median_response


def columns(n: int, seed: int) -> dict[str, np.ndarray]:
    """Clusters losing a fraction ℓ upstream (ℓ grows with |η|), a part of which the PS (E0) sees."""
    rng = np.random.default_rng(seed)
    e_true = np.exp(rng.uniform(np.log(10.0), np.log(500.0), n))
    eta = rng.uniform(-2.4, 2.4, n)
    loss = (0.02 + 0.03 * np.abs(eta)) * rng.exponential(1.0, n)
    e_acc = (1 - loss) * e_true * (1 + 0.01 * rng.standard_normal(n))
    frac = rng.dirichlet([2.0, 8.0, 0.5], n)
    ptype = rng.integers(0, 3, n)
    conv = ptype == 2
    f32 = np.float32
    return {
        "E_true": e_true.astype(f32),
        "E0": (0.6 * loss * e_true * (1 + 0.1 * rng.standard_normal(n))).astype(f32),
        "E1": (e_acc * frac[:, 0]).astype(f32),
        "E2": (e_acc * frac[:, 1]).astype(f32),
        "E3": (e_acc * frac[:, 2]).astype(f32),
        "E_TG3": np.zeros(n, f32),
        "eta": eta.astype(f32),
        "eta_calo": eta.astype(f32),
        "phi_calo": rng.uniform(-np.pi, np.pi, n).astype(f32),
        "conv_R": np.where(conv, rng.uniform(50, 800, n), 0).astype(f32),
        "conv_et_over_pt": np.where(conv, rng.uniform(0.5, 2, n), 0).astype(f32),
        "conv_pt_ratio": np.where(conv, rng.uniform(0, 1, n), 0).astype(f32),
        "particle_type": ptype.astype(np.int32),
    }


def test_mva_features_follow_physics_section_5() -> None:
    c = columns(50, 0)
    x, names = mva_features(c, converted=False)
    assert x.shape == (50, 11) and x.dtype == np.float32
    e_acc = c["E1"] + c["E2"] + c["E3"]
    np.testing.assert_allclose(x[:, names.index("E_acc")], e_acc, rtol=1e-6)
    np.testing.assert_allclose(x[:, names.index("R12")], c["E1"] / c["E2"], rtol=1e-5)
    assert np.all(x[:, names.index("etaModCalo")] < 0.025) and np.all(x[:, names.index("etaModCalo")] >= 0)
    np.testing.assert_array_equal(x[:, names.index("cellIndexCalo")], np.floor(np.abs(c["eta_calo"]) / 0.025))
    xc, names_c = mva_features(c, converted=True)
    assert names_c[-3:] == ("convR", "convEtOverPt", "convPtRatio") and xc.shape == (50, 14)
    with pytest.raises(ValueError, match="lack"):
        mva_features({k: v for k, v in c.items() if k != "E0"}, converted=False)


def test_fit_improves_on_raw_and_round_trips(tmp_path: Path) -> None:
    train, test = columns(6000, 1), columns(3000, 2)
    bdt = CalibrationBDT(n_estimators=150, n_jobs=1).fit(train)
    assert sorted(bdt.models) == [0, 1, 2]  # one model per particle type
    pred = bdt.predict(test)
    raw = (test["E0"] + test["E1"] + test["E2"] + test["E3"]) / test["E_true"]
    calib = pred["E_gbdt"] / test["E_true"]
    assert iqr_resolution(calib) < 0.8 * iqr_resolution(raw)  # the PS carries the upstream loss
    assert abs(median_response(calib) - 1) < 0.01 < abs(median_response(raw) - 1)
    path = bdt.save(tmp_path)
    manifest = json.loads(path.read_text())
    assert set(manifest["models"]) == {"0", "1", "2"}
    json.loads((tmp_path / manifest["models"]["2"]["file"]).read_text())  # valid XGBoost JSON
    again = CalibrationBDT.load(tmp_path).predict(test)
    np.testing.assert_allclose(again["E_gbdt"], pred["E_gbdt"], rtol=1e-6)


def test_bad_use_is_refused() -> None:
    c = columns(200, 3)
    with pytest.raises(ValueError, match="before fit"):
        CalibrationBDT().predict(c)
    bdt = CalibrationBDT(n_estimators=5, n_jobs=1).fit({**c, "particle_type": np.ones(200, np.int32)})
    with pytest.raises(ValueError, match="particle types"):
        bdt.predict(c)
    with pytest.raises(ValueError, match="target"):
        CalibrationBDT().fit({k: v for k, v in c.items() if k != "E_true"})
