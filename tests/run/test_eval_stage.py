"""stage=eval / stage=predict on a trained tiny model: same scores as at training, entry by entry.

A tiny photon_cnn run is trained on synthetic samples; its test sample (a separate cached file)
is then evaluated as "new data". Every test entry was scored at training, so the eval stage
must reproduce the training predictions exactly (same weights, same normalisation restored
from the checkpoint, same working-point maps applied).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

from egml.errors import EgmlError

TRUTH_BRANCHES = ("y_isTruthMatchedPhoton", "y_truthType")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, egml_cache: Path, tiny_overrides, run_egml) -> Path:
    run_dir = tmp_path_factory.mktemp("train") / "run"
    run_egml([
        "task=photon_cnn", *tiny_overrides(egml_cache, run_dir, n_train=800, n_val=200, n_test=400),
        "model.conv_filters=[4,4]", "model.dense_widths=[8]", "data.normalize=[img_L2,img_L3]",
        "task.baseline.min_signal=20",
    ])  # fmt: skip
    return run_dir


def _test_file(cache: Path) -> str:
    """The cached synthetic test sample of the tiny run (a file of its own: all of it was the test split)."""
    (path,) = sorted((cache / "data").glob("photon_cnn_test_400_*.root"))
    return str(path)


def _read(path: Path) -> dict[str, np.ndarray]:
    with uproot.open(path) as f:
        return f["predictions"].arrays(library="np")


def test_eval_reproduces_training_predictions(
    trained: Path, egml_cache: Path, tmp_path: Path, run_egml
) -> None:
    out = tmp_path / "eval"
    run_egml([
        "task=photon_cnn", "stage=eval", f"ckpt_path={trained / 'checkpoints' / 'best.ckpt'}",
        f"data.files=[{_test_file(egml_cache)}]", f"paths.output_dir={out}", "logger=csv",
    ])  # fmt: skip
    at_training, now = _read(trained / "predictions.root"), _read(out / "predictions.root")
    assert len(now["score_combined"]) == len(at_training["score_combined"]) > 0
    np.testing.assert_array_equal(now["pt"], at_training["pt"])  # same entries, same order
    np.testing.assert_allclose(now["score_combined"], at_training["score_combined"], rtol=0, atol=1e-6)
    for wp in ("wp_loose", "wp_tight"):  # the training maps, applied to the same scores
        np.testing.assert_array_equal(now[wp], at_training[wp])
    np.testing.assert_array_equal(now["entry"], np.arange(len(now["entry"])))
    # the baseline reloaded from <run>/baseline gives the same decisions
    np.testing.assert_array_equal(now["cutbased_tight"], at_training["cutbased_tight"])
    np.testing.assert_array_equal(now["cutbased_loose"], at_training["cutbased_loose"])

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval/n_candidates"] == len(now["score_combined"])
    train_metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["test/auc_combined"] == pytest.approx(train_metrics["test/auc_combined"], abs=1e-6)
    label = now["label"] > 0.5
    assert metrics["eval/wp/wp_tight_pass_label1"] == pytest.approx(now["wp_tight"][label].mean())
    saved = json.loads((trained / "working_points.json").read_text())["working_points"]
    applied = json.loads((out / "working_points.json").read_text())["working_points"]
    assert applied == saved
    assert (out / "plots" / "roc.png").stat().st_size > 0


def test_predict_on_unlabelled_file(trained: Path, egml_cache: Path, tmp_path: Path, run_egml) -> None:
    with uproot.open(_test_file(egml_cache)) as f:
        tree = f["SinglePhoton"]
        data = tree.arrays([b for b in tree.keys() if b not in TRUTH_BRANCHES], library="np")
    data = {k: v for k, v in data.items() if v.dtype != object}  # the jagged cell lists are not needed
    unlabelled = tmp_path / "analysis.root"
    with uproot.recreate(unlabelled) as f:
        f.mktree("SinglePhoton", {k: (v.dtype, v.shape[1:]) for k, v in data.items()})
        f["SinglePhoton"].extend(data)

    args = ["task=photon_cnn", f"ckpt_path={trained}", f"data.files=[{unlabelled}]", "logger=csv"]
    with pytest.raises(EgmlError, match="stage=predict"):
        run_egml([*args, "stage=eval", f"paths.output_dir={tmp_path / 'eval'}"])
    out = tmp_path / "predict"
    run_egml([*args, "stage=predict", f"paths.output_dir={out}"])
    now, at_training = _read(out / "predictions.root"), _read(trained / "predictions.root")
    assert "label" not in now and "truth_type" not in now
    np.testing.assert_allclose(now["score_combined"], at_training["score_combined"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(now["wp_tight"], at_training["wp_tight"])
    assert not (out / "metrics.json").exists()


def test_export_of_trained_run(trained: Path, egml_cache: Path, tmp_path: Path, run_egml) -> None:
    out = tmp_path / "export"
    run_egml([
        "task=photon_cnn", "stage=export", f"ckpt_path={trained}", f"data.files=[{_test_file(egml_cache)}]",
        f"paths.output_dir={out}", "logger=csv",
    ])  # fmt: skip
    report = json.loads((out / "export.json").read_text())
    # the default data.inputs of photon_cnn (conf/data/photon_cnn.yaml)
    inputs = ["img_L1", "img_L2", "img_L3", "img_PS", "img_Had", "pt", "eta", "conv_type"]
    assert report["parity_ok"] and report["input_names"] == inputs


def test_eval_needs_a_checkpoint(tmp_path: Path, run_egml) -> None:
    with pytest.raises(EgmlError, match="ckpt_path"):
        run_egml(
            ["task=photon_cnn", "stage=eval", f"ckpt_path={tmp_path / 'missing.ckpt'}", "data.files=[x.root]"]
        )


def test_eval_logs_plots_and_tables_to_wandb_offline(
    trained: Path, egml_cache: Path, tmp_path: Path, run_egml, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "eval_wandb"
    run_egml([
        "task=photon_cnn", "stage=eval", f"ckpt_path={trained}", f"data.files=[{_test_file(egml_cache)}]",
        f"paths.output_dir={out}", "logger=default",
    ])  # fmt: skip
    (run,) = (out / "wandb").glob("offline-run-*")
    media = run / "files" / "media"
    assert list((media / "images" / "plots").glob("roc_*.png"))
    assert list((media / "table" / "tables").glob("working_points_*.table.json"))
    assert list((media / "table" / "roc").glob("roc_table_*.table.json"))
    assert (out / "csv" / "metrics.csv").stat().st_size > 0
