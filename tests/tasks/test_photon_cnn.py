"""photon_cnn end to end: every model variant trains and evaluates through the real config tree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot


def _check_outputs(run_dir: Path, outputs: tuple[str, ...]) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.5 < metrics["test/auc_combined"] <= 1.0  # a few batches already separate the classes
    for name in outputs:  # side outputs of a barely trained multi-output model: only well defined
        assert 0.0 <= metrics[f"test/auc_{name}"] <= 1.0
    for key in ("baseline/cutbased_tight_eff", "test/eff_at_tight_rej", "test/eff_ratio_at_tight_rej_lowpt"):
        assert np.isfinite(metrics[key])
    with uproot.open(run_dir / "predictions.root") as f:
        tree = f["predictions"]
        assert tree.classname == "TTree"
        branches = set(tree.keys())
        assert {f"score_{n}" for n in outputs} <= branches
        assert {
            "label",
            "pt",
            "eta",
            "conv_type",
            "ptcone40",
            "wp_loose",
            "wp_tight",
            "cutbased_tight",
        } <= branches
        assert tree.num_entries == metrics["test/n_signal"] + metrics["test/n_background"]
    for plot in (
        "roc",
        "scores",
        "efficiency_vs_pt_tight",
        "efficiency_vs_abs_eta_tight",
        "correlations_signal",
    ):
        assert (run_dir / "plots" / f"{plot}.png").stat().st_size > 0
    assert (run_dir / "working_points.json").exists()
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    assert (run_dir / "baseline" / "cut_based_menu.json").exists()
    return metrics


def test_cli_run_writes_every_output(egml_cache: Path, tmp_path: Path, tiny_overrides) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "egml",
            "task=photon_cnn",
            *tiny_overrides(egml_cache, run_dir),
            "logger=default",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_outputs(run_dir, ("combined",))
    assert (run_dir / "config.yaml").exists() and (run_dir / "egml_run.json").exists()
    assert list((run_dir / "csv").glob("metrics.csv"))
    assert "task" in (run_dir / "csv" / "hparams.yaml").read_text()  # the resolved config as hparams
    assert list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))  # W&B offline, no account needed


@pytest.mark.parametrize(
    ("extra", "outputs"),
    [
        (["experiment=photon_cnn_layer_split"], ("combined", "strips", "rest")),
        (["experiment=photon_cnn_disco"], ("combined", "iso_decorrelated", "orthogonal")),
        (
            [
                "model.inputs=[img_L1,img_L2,img_L3,img_PS,img_Had]",
                "data.inputs=[img_L1,img_L2,img_L3,img_PS,img_Had,pt,eta,conv_type]",
                "model.norm=batch",
                "model.dropout=0.1",
                "model.conv_filters=[16,16]",
                "model.dense_widths=[32,32]",
            ],
            ("combined",),
        ),
    ],
    ids=["layer_split", "disco", "extra_layers_small"],
)
def test_model_variants_run(
    egml_cache: Path, tmp_path: Path, tiny_overrides, run_egml, extra: list[str], outputs: tuple[str, ...]
) -> None:
    run_dir = tmp_path / "run"
    run_egml(["task=photon_cnn", *tiny_overrides(egml_cache, run_dir), *extra])
    metrics = _check_outputs(run_dir, outputs)
    if "iso_decorrelated" in outputs:
        assert np.isfinite(metrics["test/matrix_method/efficiency_estimate"])
