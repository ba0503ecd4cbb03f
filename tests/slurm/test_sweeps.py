"""Multiruns on a real local SLURM cluster: a 2-job sweep with its summary, a 2-rank CPU DDP job,
and a cancelled job that ends the sweep with a clear error."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from slurm_helpers import finish, metrics, slurm, sweep, tiny

pytestmark = pytest.mark.slurm


def test_two_job_multirun_writes_run_dirs_and_summary(slurm_cluster, egml_cache, tmp_path):
    sweep_dir = tmp_path / "sweep"
    out = finish(sweep(sweep_dir, [*tiny(egml_cache), "model.width=16,32", "logger=default"]))
    assert "sweep summary" in out, out[-3000:]
    rows = list(csv.DictReader((sweep_dir / "summary.csv").open()))
    assert [(r["job"], r["status"], r["overrides"]) for r in rows] == [
        ("0", "ok", "model.width=16"),
        ("1", "ok", "model.width=32"),
    ]
    for row, job in zip(rows, ("0", "1")):
        run_dir = sweep_dir / job
        assert row["objective"] == "test/rej70"
        assert float(row["test/rej70"]) == pytest.approx(metrics(run_dir)["test/rej70"], rel=1e-4)
        config = (run_dir / ".hydra" / "overrides.yaml").read_text()
        assert f"model.width={16 if job == '0' else 32}" in config
        assert list((run_dir / "wandb").glob("offline-run-*")), "no W&B offline run"
    assert "| 1 | ok | `model.width=32` |" in (sweep_dir / "summary.md").read_text()
    jobs = json.loads((sweep_dir / "jobs.json").read_text())
    states = slurm("sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", jobs[0]["slurm_id"].split("_")[0])
    assert states.count("COMPLETED") == 2, states


def test_ddp_two_ranks_through_slurm_writes_metrics_once(slurm_cluster, egml_cache, tmp_path):
    sweep_dir = tmp_path / "ddp"
    overrides = [
        *tiny(egml_cache),
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=4",
    ]
    overrides += ["trainer.limit_val_batches=2", "logger=csv", "hydra.launcher.tasks_per_node=2"]
    out = finish(sweep(sweep_dir, overrides))
    assert "sweep summary" in out, out[-3000:]
    assert [p.parent.name for p in sweep_dir.rglob("metrics.json")] == ["0"]
    logs = sorted((sweep_dir / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2, logs  # one log per SLURM task (rank)
    text = [p.read_text() for p in logs]
    assert all("Job completed successfully" in t for t in text)
    ranks = sorted(t.split("global_rank=")[1].split("(")[0] for t in text)
    assert ranks == ["0", "1"]
    assert sum("run dir:" in t for t in text) == 1  # only rank 0 writes the outputs
    assert "MEMBER: 2/2" in "".join(text)


def _running_job(sweep_dir: Path, timeout: float = 120) -> str:
    """The SLURM id of the sweep's job once it trains (its last.ckpt exists)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(sweep_dir.glob("*/checkpoints/last.ckpt")):
            ids = slurm("squeue", "-h", "-t", "R", "-o", "%i").split()
            if ids:
                return ids[0]
        time.sleep(0.5)
    pytest.fail(f"no job of {sweep_dir} started training within {timeout} s")


def test_cancelled_job_ends_the_multirun_with_a_clear_error(slurm_cluster, egml_cache, tmp_path):
    sweep_dir = tmp_path / "cancel"
    overrides = [
        *tiny(egml_cache),
        "logger=csv",
        "trainer.max_epochs=200",
        "trainer.limit_train_batches=null",
    ]
    proc = sweep(sweep_dir, [*overrides, "seed=1"])
    job = _running_job(sweep_dir)
    slurm("scancel", job)
    out = finish(proc, timeout=90)  # without accounting submitit would wait forever here
    assert proc.returncode != 0
    assert "1 of 1 sweep jobs did not finish" in out and "cancelled" in out, out[-3000:]
    assert "CANCELLED" in out
    summary = (sweep_dir / "summary.md").read_text()
    assert "| 0 | cancelled |" in summary, summary
