"""One tiny trained run of each task, shared by the checks that need a trained model:

* every standard plot (egml.evaluation.plots.STANDARD_PLOTS) exists and is non-empty, with the
  numbers behind the curves in ``plots/data/<name>.json``;
* ``stage=eval`` of the trained model on a second file (the cached synthetic test sample, a file
  of its own that was all test split) gives the same scores and working-point decisions as the
  predictions written at training, entry by entry: the maps saved at training are applied;
* the run's plots, tables and ROC curves are logged to W&B in offline mode.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

from egml.bench.scales import TINY_SIZES

SIZES = TINY_SIZES  # n_train, n_val, n_test: shared cached samples (egml.bench.scales)
SMALL_MODELS = {
    "photon_cnn": ["model.conv_filters=[4,4]", "model.dense_widths=[8]", "data.normalize=[img_L2,img_L3]",
                   "task.baseline.min_signal=20"],
    "electron_dnn": ["model.depth=2", "model.width=16", "task.baseline.min_entries=20"],
    "merged_photon": ["model.widths=[4,8]", "model.blocks_per_stage=1", "task.baseline.n_estimators=10",
                      "task.module.evaluation.min_signal=5"],
    "energy_regression": ["model.embed_dim=16", "model.n_heads=2", "model.n_blocks=1", "model.ff_dim=16",
                          "model.head_widths=[16]", "task.module.max_cells=32", "task.baseline.n_estimators=20",
                          "task.module.evaluation.min_bin_entries=20"],
}  # fmt: skip
WORKING_POINTS = {
    "photon_cnn": ("loose", "tight"),
    "electron_dnn": ("loose", "medium", "tight"),
    "merged_photon": ("loose", "medium", "tight"),
}
SCORES = {  # network outputs written at training and at eval
    "photon_cnn": ("score_combined",),
    "electron_dnn": ("p_El", "p_CF", "p_LFH", "D_el", "log_D_CF"),
    "merged_photon": ("score_merged_photon", "baseline_score"),
    "energy_regression": ("r_pred", "E_pred", "E_gbdt"),
}


def standard_plots(task: str) -> list[str]:
    from egml.evaluation.plots import STANDARD_PLOTS

    names = []
    for name in STANDARD_PLOTS[task]:
        if "<wp>" in name:
            names += [name.replace("<wp>", wp) for wp in WORKING_POINTS[task]]
        elif "<type>" in name:
            names.append(name.replace("<type>", "type1"))  # the default sample: unconverted photons
        else:
            names.append(name)
    return names


@pytest.fixture(scope="module", params=list(SIZES))
def trained(request, tmp_path_factory, egml_cache: Path, tiny_overrides, run_egml) -> tuple[str, Path]:
    task = request.param
    run_dir = tmp_path_factory.mktemp(f"plots_{task}") / "run"
    run_egml([f"task={task}", *tiny_overrides(egml_cache, run_dir, *SIZES[task]), *SMALL_MODELS[task]])
    return task, run_dir


def _read(path: Path) -> dict[str, np.ndarray]:
    with uproot.open(path) as f:
        return f["predictions"].arrays(library="np")


def _test_file(run_dir: Path) -> str:
    """The default test file the run was trained with (other tests may cache same-size samples)."""
    from omegaconf import OmegaConf

    from egml.run.data_source import synthetic_files

    (path,) = synthetic_files(OmegaConf.load(run_dir / "config.yaml"))["test"]
    return path


def test_standard_plots_exist_and_are_not_empty(trained: tuple[str, Path]) -> None:
    task, run_dir = trained
    for name in standard_plots(task):
        path = run_dir / "plots" / f"{name}.png"
        assert path.is_file() and path.stat().st_size > 1000, path  # a real PNG, not a stub
    for data in ("roc", "efficiency_vs_pt_tight", "resolution_vs_mu"):
        path = run_dir / "plots" / "data" / f"{data}.json"
        if (run_dir / "plots" / f"{data}.png").exists():
            columns = json.loads(path.read_text())["columns"]
            lengths = {len(v) for v in columns.values()}
            assert len(lengths) == 1 and lengths.pop() > 1, path


def test_eval_reproduces_training_predictions(
    trained: tuple[str, Path], egml_cache: Path, tmp_path: Path, run_egml
) -> None:
    task, run_dir = trained
    out = tmp_path / "eval"
    run_egml([
        f"task={task}", "stage=eval", f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}",
        f"data.files=[{_test_file(run_dir)}]", f"paths.output_dir={out}", "logger=csv",
        f"paths.cache_dir={egml_cache}",
    ])  # fmt: skip
    at_training, now = _read(run_dir / "predictions.root"), _read(out / "predictions.root")
    n = len(at_training[SCORES[task][0]])
    assert n > 0 and len(now[SCORES[task][0]]) == n
    assert (np.diff(now["entry"]) > 0).all()  # every selected entry of the file, in file order
    for score in SCORES[task]:
        np.testing.assert_allclose(now[score], at_training[score], rtol=1e-6, atol=1e-6, err_msg=score)
    columns = [f"wp_{wp}" for wp in WORKING_POINTS.get(task, ())]
    if task == "merged_photon":  # the BDT's maps are fitted by the task's evaluation too
        columns += [f"baseline_wp_{wp}" for wp in WORKING_POINTS[task]]
    for column in columns:  # the maps saved at training, applied to the same scores
        np.testing.assert_array_equal(now[column], at_training[column], err_msg=column)
    if task in WORKING_POINTS:
        saved = json.loads((run_dir / "working_points.json").read_text())["working_points"]
        applied = json.loads((out / "working_points.json").read_text())["working_points"]
        assert applied == saved
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval/n_candidates"] == n
    for name in standard_plots(task):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000, name


def test_wandb_offline_logs_plots_tables_and_roc(trained: tuple[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    from egml.run.loggers import finish_wandb, log_run_artifacts

    task, run_dir = trained
    logger = WandbLogger(save_dir=str(tmp_path), project="egml-test", offline=True, mode="offline", name=task)
    n = log_run_artifacts([logger], run_dir)
    finish_wandb([logger])
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert next(run.glob("*.wandb")).stat().st_size > 0
    media = run / "files" / "media"
    images = {p.name.split("_0_")[0] for p in (media / "images" / "plots").glob("*.png")}
    assert set(standard_plots(task)) <= images
    tables = {p.name.split("_0_")[0] for p in (media / "table" / "tables").glob("*.table.json")}
    if task == "energy_regression":
        assert {"resolution_bins", "resolution_vs_mu"} <= tables
    else:
        assert {"working_points", "roc", "efficiency_vs_pt_tight"} <= tables
        assert list((media / "table" / "roc").glob("roc_table*.table.json"))  # the ROC line plot's data
    assert n >= len(images) + len(tables)
