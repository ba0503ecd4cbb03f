"""Headline physics figures: the real train stage at the benchmark's scale.

Each run composes the real config tree and runs ``egml.run.stages.run_stage`` in this process
(what ``python -m egml`` does after Hydra's start-up, as tests/conftest.py ``run_egml``), on the
same default data as the speed sections (shared cache dir); its ``metrics.json`` is read and
mapped to the issue's keys.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from egml.bench.config import compose_config
from egml.bench.scales import Scale

#: physics key → metrics.json key, per task (photon_cnn's disco_reduction is computed from two runs)
KEYS: dict[str, dict[str, str]] = {
    "photon_cnn": {
        "eff_ratio_at_tight_rej": "test/eff_ratio_at_tight_rej",
        "eff_ratio_at_tight_rej_lowpt": "test/eff_ratio_at_tight_rej_lowpt",
        "auc": "test/auc_combined",
    },
    "electron_dnn": {
        "rej70_ratio_vs_lh": "test/rej70_ratio_vs_lh",
        "rej70": "test/rej70",
        "lh_rej70": "baseline/lh_rej70",
    },
    "merged_photon": {
        "sb_ratio_vs_baseline.loose": "test/sb_ratio_vs_baseline_loose",
        "sb_ratio_vs_baseline.medium": "test/sb_ratio_vs_baseline_medium",
        "sb_ratio_vs_baseline.tight": "test/sb_ratio_vs_baseline_tight",
        "eff_spread_medium": "test/eff_spread_medium",
    },
    "energy_regression": {  # particleType 1: unconverted photons
        "iqr_ratio_vs_gbdt": "test/type1/iqr_ratio_vs_gbdt",
        "max_abs_median_bias": "test/max_abs_median_bias",
    },
}
DISCO_KEY = "test/disco_ptcone40_bkg_iso_decorrelated"


def train_run(
    task: str, scale: Scale, workdir: Path, name: str, extra: list[str] | None = None, device: str = "cpu"
) -> dict[str, Any]:
    """Run the train stage once; its metrics.json plus the wall time."""
    from egml.run.stages import run_stage

    scale = scale.for_task(task)
    run_dir = workdir / "physics" / name
    overrides = [
        f"paths.output_dir={run_dir}",
        f"trainer.max_epochs={scale.epochs}",
        "logger=csv",
        "callbacks.progress_bar=none",
        "task.module.evaluation.plot_formats=[]",  # figures are not needed here (and cost seconds each)
        *(extra or []),
    ]
    if task == "energy_regression":
        overrides.append(f"task.module.evaluation.min_bin_entries={scale.min_bin_entries}")
    if task == "merged_photon":
        overrides.append(f"task.module.evaluation.min_signal={scale.min_signal}")
    t0 = time.perf_counter()
    run_stage(compose_config(task, scale, workdir, overrides, device=device))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["_wall_s"] = time.perf_counter() - t0
    metrics["_run_dir"] = str(run_dir)
    return metrics


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": v}`` → ``{"a": {"b": v}}``."""
    out: dict[str, Any] = {}
    for key, v in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out


def _get(metrics: dict[str, Any], key: str) -> float:
    v = metrics.get(key)
    return float(v) if isinstance(v, (int, float)) else float("nan")


def measure_physics(task: str, scale: Scale, workdir: Path, device: str = "cpu") -> dict[str, Any]:
    metrics = train_run(task, scale, workdir, task, device=device)
    flat = {k: _get(metrics, m) for k, m in KEYS[task].items()}
    flat["train_stage_wall_s"] = metrics["_wall_s"]
    if task == "photon_cnn":  # DisCo(out_1, ptcone40) on background: λ1 = 0 over the default λ1 > 0
        exp = ["experiment=photon_cnn_disco"]
        off = train_run(
            task, scale, workdir, "photon_cnn_disco_off", [*exp, "task.module.lambda_iso=0"], device
        )
        on = train_run(task, scale, workdir, "photon_cnn_disco_on", exp, device)
        flat["disco_lambda0"], flat["disco_default"] = _get(off, DISCO_KEY), _get(on, DISCO_KEY)
        flat["disco_reduction"] = flat["disco_lambda0"] / flat["disco_default"]
    out = nested(flat)
    out["run_dir"] = metrics["_run_dir"]
    return out
