"""electron_dnn: discriminants as the task computes them, loss, input definitions, WP closure,
and tiny end-to-end runs through the CLI (synthetic default, and files in the §7 schema)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import uproot
from omegaconf import OmegaConf

from egml.data.expression import parse_expression
from egml.models.electron_dnn import ElectronDNN
from egml.physics import electron_features as ef
from egml.physics.discriminants import ELECTRON_CLASSES
from egml.tasks.electron_dnn import ElectronDNNTask
from egml.tasks.electron_eval import evaluate_electron_id

CONF = Path(__file__).resolve().parents[2] / "src" / "egml" / "conf"
FRACTIONS = {"f_el": 0.8, "f_pc": 0.1, "f_hf": 0.2, "f_lfeg": 0.3}


def _task(**kwargs) -> ElectronDNNTask:
    return ElectronDNNTask(ElectronDNN(feature_names=("a", "b")), **kwargs)


def test_scores_match_hand_computation() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5, 0.0, -2.0, 1.0], [-3.0, 1.5, 0.0, 2.0, 0.3, -0.7]])
    out = _task(fractions=FRACTIONS).scores(logits, {})
    p = np.exp(logits.numpy().astype(np.float64))
    p /= p.sum(1, keepdims=True)
    el, cf, pc, hf, lfeg, lfh = p.T
    f = FRACTIONS
    num = f["f_el"] * el + (1 - f["f_el"]) * cf
    den = (
        f["f_pc"] * pc + f["f_hf"] * hf + f["f_lfeg"] * lfeg + (1 - f["f_pc"] - f["f_hf"] - f["f_lfeg"]) * lfh
    )
    np.testing.assert_allclose(out["D_el"].numpy(), np.log(num / den), rtol=1e-6)
    np.testing.assert_allclose(out["D_CF"].numpy(), el / cf, rtol=1e-5)
    np.testing.assert_allclose(out["log_D_CF"].numpy(), np.log(el / cf), rtol=1e-6)
    for i, c in enumerate(ELECTRON_CLASSES):
        np.testing.assert_allclose(out[f"p_{c}"].numpy(), p[:, i], rtol=1e-5)


def test_loss_is_weighted_cross_entropy() -> None:
    torch.manual_seed(0)
    logits = torch.randn(8, 6)
    label = torch.tensor([0, 1, 2, 3, 4, 5, 0, 2])
    weight = torch.rand(8) + 0.5
    cw = [1.0, 2.0, 1.0, 0.5, 1.0, 3.0]
    loss = _task(class_weights=cw).compute_loss(logits, {"label": label, "weight": weight}, "train")
    w = weight * torch.tensor(cw)[label]
    per = -torch.log_softmax(logits, 1)[torch.arange(8), label]
    assert torch.isclose(loss, (w * per).sum() / w.sum(), rtol=1e-6)
    with pytest.raises(ValueError, match="class_weights"):
        _task(class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="fractions"):
        _task(fractions={"f_xx": 0.1})


def test_branch_map_tool_conventions_match_electron_features() -> None:
    bmap = OmegaConf.to_container(OmegaConf.load(CONF / "data" / "electron_dnn.yaml"))["branch_map"]
    rng = np.random.default_rng(0)
    eta = rng.uniform(-2.47, 2.47, 1000).astype(np.float32)
    p = rng.uniform(0.001, 0.999, 1000).astype(np.float32)
    f3 = rng.uniform(0, 0.1, 1000).astype(np.float32)
    values = {"p_eta": eta, "p_TRTPID": p, "p_f3": f3}
    got_trt = parse_expression(bmap["trans_TRTPID"]["expr"]).evaluate(values)
    got_f3 = parse_expression(bmap["f3"]["expr"]).evaluate(values)
    np.testing.assert_allclose(got_trt, ef.trans_trtpid(p, np.abs(eta)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_f3, ef.f3_dnn(f3, np.abs(eta)), rtol=1e-6)
    assert np.any(np.abs(eta) > 2.01) and np.any(np.abs(eta) < 2.01)


def test_dnn_working_points_close_on_independent_rows(tmp_path: Path) -> None:
    """WPs fitted on the even test rows reach the target ±1 % on the odd rows, per bin with ≥ 1000 El."""
    rng = np.random.default_rng(1)
    n = 150_000
    label = rng.choice(6, size=n, p=[0.8, 0.02, 0.045, 0.045, 0.045, 0.045])
    logits = rng.normal(0, 1, (n, 6))
    logits[np.arange(n), label] += 2.0
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    preds = {f"p_{c}": p[:, i].astype(np.float32) for i, c in enumerate(ELECTRON_CLASSES)}
    preds.update(
        label=label.astype(np.int32),
        et=np.where(rng.random(n) < 0.5, 25.0, 50.0).astype(np.float32),
        eta=rng.choice([0.3, -0.3], n).astype(np.float32),  # one |η| bin
        weight=np.ones(n, np.float32),
    )
    out = _task().scores(torch.as_tensor(logits), {})
    preds.update(
        {k: v.numpy().astype(np.float32) for k, v in out.items() if k in ("D_el", "log_D_CF", "D_CF")}
    )
    m = evaluate_electron_id(preds, tmp_path, fractions=FRACTIONS, plot_formats=())  # no plots: ~10 s
    for wp in ("loose", "medium", "tight"):
        assert m[f"test/dnn_{wp}_closure_bins"] == 2
        assert m[f"test/dnn_{wp}_closure_maxdev"] < 0.01
        assert preds[f"wp_{wp}"].dtype == np.int32
    assert 0.5 < m["test/auc_El"] <= 1.0 and m["test/rej70"] > 1.0
    assert (tmp_path / "working_points.json").exists()


def _run_cli(overrides: list[str], run_dir: Path, cache: Path) -> dict:
    cmd = [
        sys.executable, "-m", "egml", "task=electron_dnn", "trainer=debug", "logger=csv",
        "callbacks.progress_bar=none", f"paths.cache_dir={cache}", f"paths.output_dir={run_dir}",
        f"hydra.run.dir={run_dir}", "task.baseline.min_entries=20", *overrides,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


def _check_run(run_dir: Path, metrics: dict) -> None:
    for key in ("test/rej70", "baseline/lh_rej70", "test/rej70_ratio_vs_lh", "test/auc_El", "test/cf_rej90"):
        assert np.isfinite(metrics[key]), key
    assert metrics["test/rej70_ratio_vs_lh"] == pytest.approx(
        metrics["test/rej70"] / metrics["baseline/lh_rej70"]
    )
    with uproot.open(run_dir / "predictions.root") as f:
        tree = f["predictions"]
        assert tree.classname == "TTree"
        want = {f"p_{c}" for c in ELECTRON_CLASSES} | {
            "D_el",
            "D_CF",
            "log_D_CF",
            "lh_dprime",
            "label",
            "et",
            "eta",
        }
        want |= {f"{who}_{wp}" for who in ("wp", "lh") for wp in ("loose", "medium", "tight")}
        assert want <= set(tree.keys())
        assert tree.num_entries == sum(metrics[f"test/n_{c}"] for c in ELECTRON_CLASSES)
    for plot in ("roc", "roc_el_vs_LFH", "confusion_matrix", "scores",
                 "background_efficiency_vs_et_tight"):  # fmt: skip
        assert (run_dir / "plots" / f"{plot}.png").stat().st_size > 0
    assert (run_dir / "working_points.json").exists()
    assert (run_dir / "baseline" / "electron_likelihood.json").exists()


@pytest.mark.slow  # generates 3 blocks of T2 candidates (~1 min of CPU)
def test_cli_synthetic_default(tmp_path: Path) -> None:
    # the default sample through the real generator at a tiny size
    sizes = ["data.synthetic.seed=3", "data.synthetic.n_train=2000", "data.synthetic.n_val=500",
             "data.synthetic.n_test=1000"]  # fmt: skip
    run_dir = tmp_path / "run"
    _check_run(run_dir, _run_cli(sizes, run_dir, tmp_path / "cache"))


def write_schema_file(path: Path, n: int, seed: int) -> Path:
    """A file in the PHYSICS.md §7 T2 schema (tree ``tree``) with crude class-dependent values."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, n).astype(np.int32)
    bkg = 0.3 * (y >= 2).astype(np.float32)  # weak separation: finite rejections on ~600 test rows
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    i32 = lambda a: np.asarray(a, np.int32)  # noqa: E731
    q = i32(rng.choice([-1, 1], n))
    cols = {
        "evt_runNo": i32(np.full(n, 284500)), "evt_eventNo": np.arange(n, dtype=np.int64) + seed * 10**6,
        "averageInteractionsPerCrossing": f32(rng.uniform(10, 60, n)),
        "p_et_calo": f32(np.exp(rng.uniform(np.log(4.5), np.log(500), n))), "p_eta": f32(rng.uniform(-2.47, 2.47, n)),
        "p_phi": f32(rng.uniform(-np.pi, np.pi, n)), "p_charge": q,
        "p_Rhad1": f32(rng.normal(0.01 + 0.03 * bkg, 0.02)), "p_Rhad": f32(rng.normal(0.01 + 0.04 * bkg, 0.02)),
        "p_f3": f32(rng.normal(0.01 + 0.02 * bkg, 0.01)), "p_weta2": f32(rng.normal(0.010 + 0.002 * bkg, 0.001)),
        "p_Rphi": f32(rng.normal(0.95 - 0.05 * bkg, 0.03)), "p_Reta": f32(rng.normal(0.95 - 0.05 * bkg, 0.03)),
        "p_wtots1": f32(np.where(rng.random(n) < 0.02, np.nan, rng.normal(2 + bkg, 0.5))),
        "p_Eratio": f32(np.where(rng.random(n) < 0.02, np.nan, rng.uniform(0.5, 1.0, n))),
        "p_f1": f32(rng.uniform(0.1, 0.5, n)),
        "p_numberOfInnermostPixelHits": i32(rng.random(n) < 0.97),
        "p_numberOfPixelHits": i32(np.where(rng.random(n) < 0.03, 1, 4)),
        "p_numberOfSCTHits": i32(rng.integers(4, 10, n)), "p_d0": f32(rng.normal(0, 0.05 + 0.2 * bkg)),
        "p_d0Sig": f32(np.abs(rng.normal(0, 1 + 3 * bkg))), "p_qd0Sig": f32(rng.normal(0, 1 + 3 * bkg)),
        "p_dPOverP": f32(rng.uniform(0, 0.8, n)), "p_TRTPID": f32(rng.beta(6.4 - 4 * bkg, 1.6 + 4 * bkg)),
        "p_deltaEta1": f32(rng.normal(0, 0.003 + 0.005 * bkg)), "p_deltaPhiRescaled2": f32(rng.normal(0, 0.01, n)),
        "p_EoverP": f32(rng.lognormal(0, 0.2 + 0.3 * bkg)), "p_ambiguityType": i32(rng.integers(0, 6, n)),
        "p_TruthType": i32(np.full(n, 2)), "p_TruthOrigin": i32(np.full(n, 13)), "p_iffTruth": i32(np.full(n, 2)),
        "p_firstEgMotherPdgId": i32(-11 * q), "p_truth_pt": f32(rng.uniform(5, 500, n)),
        "p_truth_eta": f32(rng.uniform(-2.5, 2.5, n)), "p_truth_phi": f32(rng.uniform(-3, 3, n)),
        "p_truth_E": f32(rng.uniform(5, 900, n)), "p_class6": y,
    }  # fmt: skip
    with uproot.recreate(path) as f:
        f.mktree("tree", {k: v.dtype for k, v in cols.items()})
        f["tree"].extend(cols)
    return path


def test_cli_trains_on_schema_files(tmp_path: Path) -> None:
    """Any files in the §7 electron schema, given with data.files=[...], with no other change."""
    f1 = write_schema_file(tmp_path / "a.root", 3000, seed=1)
    f2 = write_schema_file(tmp_path / "b.root", 3000, seed=2)
    run_dir = tmp_path / "run"
    metrics = _run_cli([f"data.files=[{f1},{f2}]"], run_dir, tmp_path / "cache")
    _check_run(run_dir, metrics)
    n_test = sum(metrics[f"test/n_{c}"] for c in ELECTRON_CLASSES)
    assert 300 < n_test < 900  # 10 % of 6000 rows, split by event number

    # the trained model applied to another file of the same schema, with no other change
    f3 = write_schema_file(tmp_path / "c.root", 1500, seed=3)
    out = tmp_path / "eval"
    proc = subprocess.run(
        [sys.executable, "-m", "egml", "task=electron_dnn", "stage=eval", f"ckpt_path={run_dir}",
         f"data.files=[{f3}]", f"hydra.run.dir={out}", f"paths.output_dir={out}", "logger=csv",
         f"paths.cache_dir={tmp_path / 'cache'}", "task.module.evaluation.plot_formats=[]"],  # checked above
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with uproot.open(out / "predictions.root") as f:
        scored = f["predictions"].arrays(["p_El", "D_el", "entry"], library="np")
    assert len(scored["p_El"]) == 1500 and np.isfinite(scored["D_el"]).all()
    np.testing.assert_array_equal(scored["entry"], np.arange(1500))


def test_fraction_scan_picks_valid_fractions(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 3000
    label = rng.integers(0, 6, n)
    logits = rng.normal(0, 1, (n, 6))
    logits[np.arange(n), label] += 1.5
    out = _task().scores(torch.as_tensor(logits), {})
    preds = {k: v.numpy().astype(np.float32) for k, v in out.items()}
    preds.update(
        label=label.astype(np.int32), et=np.full(n, 30.0, np.float32), eta=np.full(n, 0.3, np.float32)
    )
    m = evaluate_electron_id(preds, tmp_path, fractions=FRACTIONS, scan=True, plot_formats=())
    f = {k: m[f"test/{k}"] for k in ("f_el", "f_pc", "f_hf", "f_lfeg")}
    assert 0 <= f["f_pc"] + f["f_hf"] + f["f_lfeg"] <= 1 + 1e-9 and 0 <= f["f_el"] <= 1
    assert f != FRACTIONS and m["test/rej70_holdout"] > 1.0
