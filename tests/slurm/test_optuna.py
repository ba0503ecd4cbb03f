"""A 3-trial Optuna search over the electron-ID DNN on SLURM reports its best trial."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from slurm_helpers import finish, metrics, sweep, tiny

pytestmark = pytest.mark.slurm


def test_optuna_search_on_slurm_reports_best_trial(slurm_cluster, egml_cache, tmp_path):
    sweep_dir = tmp_path / "optuna"
    overrides = [*tiny(egml_cache), "logger=csv", "hparams_search=electron_dnn_optuna"]
    overrides += ["hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=3", "model.depth=range(1,3)"]
    out = finish(sweep(sweep_dir, overrides))
    assert "Best parameters" in out, out[-3000:]

    best = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    trials = [metrics(sweep_dir / str(i))["test/rej70"] for i in range(3)]
    assert best.best_value == pytest.approx(max(trials))  # direction: maximize rejection
    assert set(best.best_params) == {"task.module.lr", "model.width", "model.depth", "model.dropout"}
    summary = (sweep_dir / "summary.md").read_text()
    assert "3 of 3 jobs ok" in summary and "Best trial" in summary
