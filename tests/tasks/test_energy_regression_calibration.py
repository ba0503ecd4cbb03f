"""energy_regression training aids: GBDT-position features, target standardisation, warm-up +
cosine schedule and the residual median correction (fitted on validation only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from egml.baselines.calibration_bdt import mva_features
from egml.models.cell_sets import RegressionOutput
from egml.models.deep_sets import DeepSets
from egml.tasks.energy_regression import EnergyRegressionTask, derive_features, warmup_cosine
from egml.tasks.median_correction import MedianCorrection

POSITION = ("abs_eta_calo", "cell_index_calo", "eta_mod_calo", "phi_mod_calo", "log_E_acc")


def test_position_features_match_the_gbdt_inputs() -> None:
    rng = np.random.default_rng(0)
    n = 200
    cols = {k: rng.uniform(1.0, 50.0, n).astype(np.float32) for k in ("E0", "E1", "E2", "E3", "E_TG3")}
    cols["eta"] = rng.uniform(-2.4, 2.4, n).astype(np.float32)
    cols["eta_calo"] = (cols["eta"] + 0.01 * rng.standard_normal(n)).astype(np.float32)
    cols["phi_calo"] = rng.uniform(-np.pi, np.pi, n).astype(np.float32)
    x, names = mva_features(cols, converted=False)
    gb = dict(zip(names, x.T, strict=True))
    feats = derive_features({k: torch.as_tensor(v) for k, v in cols.items()}, POSITION)
    for name in ("eta_mod_calo", "phi_mod_calo"):
        assert float(feats[name].min()) >= 0.0 and float(feats[name].max()) < 1.0
    np.testing.assert_allclose(feats["cell_index_calo"].numpy(), gb["cellIndexCalo"])
    np.testing.assert_allclose(feats["eta_mod_calo"].numpy() * 0.025, gb["etaModCalo"], atol=1e-5)
    period = np.where(np.abs(cols["eta_calo"]) < 1.425, np.pi / 512, np.pi / 384)
    np.testing.assert_allclose(feats["phi_mod_calo"].numpy() * period, gb["phiModCalo"], atol=1e-5)
    np.testing.assert_allclose(feats["log_E_acc"].numpy(), np.log(gb["E_acc"]), rtol=1e-5)


def test_target_standardisation_and_schedule() -> None:
    out = RegressionOutput("gaussian", min_sigma=1e-4)
    raw = torch.tensor([[0.0, 0.0], [2.0, 1.0]])
    out.set_target(1.05, 0.02)
    y = out(raw)
    torch.testing.assert_close(y[:, 0], torch.tensor([1.05, 1.09]))
    ratio = (y[1, 1] - 1e-4) / (y[0, 1] - 1e-4)  # σ scales with r_scale too
    torch.testing.assert_close(ratio, torch.nn.functional.softplus(torch.tensor(1.0)) / np.log(2.0))
    with pytest.raises(ValueError, match="scale"):
        out.set_target(1.0, 0.0)
    f = warmup_cosine(100, 0.1)
    lrs = np.array([f(s) for s in range(100)])
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert np.all(np.diff(lrs[:10]) > 0) and np.all(np.diff(lrs[10:]) <= 0) and lrs[-1] < 0.01
    with pytest.raises(ValueError, match="warmup_frac"):
        EnergyRegressionTask(DeepSets(cell_fields=("cell_frac",), cluster_fields=()), warmup_frac=1.5)


def test_median_correction_removes_a_binned_bias() -> None:
    rng = np.random.default_rng(1)
    n = 20000
    e_true = torch.as_tensor(np.exp(rng.uniform(np.log(10), np.log(900), n)))
    eta = torch.as_tensor(rng.uniform(-2.4, 2.4, n))
    bias = 1.0 + 0.03 * (eta.abs() > 1.5) - 0.02 * (e_true < 60)  # a known per-region bias
    e_pred = e_true * bias * (1 + 0.01 * torch.as_tensor(rng.standard_normal(n)))
    corr = MedianCorrection(enabled=True, e_edges=[0, 60, 1e4], abs_eta_edges=[0, 1.5, 2.5], min_entries=50)
    assert not bool(corr.fitted)
    corr.fit(e_pred.float(), e_true.float(), eta.float())
    expected = torch.tensor([[0.98, 1.01], [1.0, 1.03]])
    torch.testing.assert_close(corr.table, expected, atol=2e-3, rtol=0)
    fixed = e_pred / corr(e_pred, eta)
    for region in ((eta.abs() > 1.5) & (e_true > 80), (eta.abs() < 1.5) & (e_true < 50)):
        assert abs(float(torch.median(fixed[region] / e_true[region])) - 1.0) < 2e-3
    sparse = MedianCorrection(enabled=True, e_edges=[0, 60, 1e4], abs_eta_edges=[0, 1.5, 2.5], min_entries=50)
    sparse.fit(e_pred[:30].float(), e_true[:30].float(), eta[:30].float())  # too few: factor 1
    torch.testing.assert_close(sparse.table, torch.ones(2, 2))
    with pytest.raises(ValueError, match="e_edges"):
        MedianCorrection(e_edges=[10.0, 5.0])


def test_task_applies_the_fitted_correction() -> None:
    torch.manual_seed(0)
    model = DeepSets(cell_fields=("cell_frac",), cluster_fields=("log_E_cluster",), mask_field="cell_E_mask")
    task = EnergyRegressionTask(model, median_correction={"enabled": True, "min_entries": 1}).eval()
    batch = {
        "cell_E": torch.rand(5, 4) + 0.1,
        "cell_E_mask": torch.ones(5, 4, dtype=torch.bool),
        "cell_layer": torch.full((5, 4), 2),
        "E_cluster": torch.full((5,), 50.0),
        "eta": torch.full((5,), 0.3),
    }
    with torch.no_grad():
        before = task(batch)
        task.median_correction.table.fill_(1.25)
        torch.testing.assert_close(task(batch), before)  # not fitted: not applied
        task.median_correction.fitted.fill_(True)
        torch.testing.assert_close(task(batch), before / 1.25)


def test_region_ids_and_region_embedding() -> None:
    eta = torch.tensor([-2.59, -2.39, 0.01, 0.19, 0.21, 2.59])  # η edges at multiples of 0.2
    phi = torch.tensor([-3.14, 0.0, 0.0, 0.0, 0.0, 3.14])  # φ edges at −π + 0.4k
    ids = derive_features({"eta_calo": eta, "phi_calo": phi}, ("calo_region",))["calo_region"]
    assert ids.tolist() == [0, 16 + 7, 13 * 16 + 7, 13 * 16 + 7, 14 * 16 + 7, 25 * 16 + 15]
    torch.manual_seed(0)
    model = DeepSets(
        cell_fields=("cell_frac",), cluster_fields=(), mask_field="cell_E_mask", region_field="calo_region"
    )
    batch = {
        "cell_frac": torch.rand(6, 3),
        "cell_E_mask": torch.ones(6, 3, dtype=torch.bool),
        "cell_layer": torch.full((6, 3), 2),
        "calo_region": ids,
    }
    with torch.no_grad():
        y = model(batch)
        model.region_embed.embed.weight[int(ids[0])] += 1.0  # only the first cluster's region moves
        y2 = model(batch)
    assert not torch.allclose(y2[0], y[0]) and torch.allclose(y2[1:], y[1:])
    with pytest.raises(ValueError, match="region"):
        model.forward_tensors(batch["cell_frac"][..., None], batch["cell_E_mask"], batch["cell_layer"])
