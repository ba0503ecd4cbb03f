"""The sweep summary from job dirs laid out as Hydra writes them (no SLURM needed)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from omegaconf import OmegaConf

from egml.run.sweep_summary import JobOutcome, save_outcomes, write_summary


def _job(sweep: Path, num: int, overrides: list[str], metrics: dict | None) -> Path:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(
        {"hydra": {"job": {"num": num}, "overrides": {"task": overrides}}}, job / ".hydra" / "hydra.yaml"
    )
    OmegaConf.save(
        {"objective": "test/rej70", "task": {"name": "electron_dnn"}}, job / ".hydra" / "config.yaml"
    )
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps(metrics))
    return job


def test_summary_lists_every_job_with_status_and_metrics(tmp_path):
    sweep = tmp_path / "sweep"
    common = ["task=electron_dnn", "trainer=debug"]
    _job(sweep, 0, [*common, "model.width=16"], {"test/rej70": 12.5, "test/loss": 0.3, "test/cm": [[1]]})
    _job(sweep, 1, [*common, "model.width=32"], None)  # started, then cancelled
    save_outcomes(
        sweep, [JobOutcome(1, [*common, "model.width=32"], "cancelled", "7_1", "SLURM job 7_1: CANCELLED")]
    )
    save_outcomes(
        sweep, [JobOutcome(2, [*common, "model.width=64"], "failed", "7_2", "SLURM job 7_2: FAILED")]
    )

    csv_path, md_path = write_summary(sweep)
    rows = list(csv.DictReader(csv_path.open()))
    assert [(r["job"], r["status"], r["overrides"]) for r in rows] == [
        ("0", "ok", "model.width=16"),
        ("1", "cancelled", "model.width=32"),
        ("2", "failed", "model.width=64"),
    ]
    assert rows[0]["test/rej70"] == "12.5" and rows[1]["test/rej70"] == ""
    assert "test/cm" not in rows[0]  # only scalars
    md = md_path.read_text()
    assert "1 of 3 jobs ok" in md and "Common overrides: `task=electron_dnn trainer=debug`" in md
    assert "| 1 | cancelled | `model.width=32` |" in md and "job 2: failed SLURM job 7_2: FAILED" in md
