"""A job preempted by SLURM's warning signal (USR1) checkpoints, requeues itself, resumes in the
same run dir and ends with the same metrics as an uninterrupted job with the same seed."""

from __future__ import annotations

import time

import pytest
from slurm_helpers import finish, metrics, slurm, sweep, tiny

pytestmark = pytest.mark.slurm


def test_preempted_job_resumes_with_identical_metrics(slurm_cluster, egml_cache, tmp_path):
    # The sweep dir holds the submission time: the requeued job must resolve it to the same dir.
    pattern = tmp_path / "preempt" / "${now:%H-%M-%S-%f}"
    overrides = [*tiny(egml_cache), "logger=csv", "model.width=32", "model.depth=2", "seed=7,7"]
    # 30 short epochs: the signal, sent after epoch 1, must reach the job while it still trains
    # (with 4, a fast machine could finish training first and never write the HPC checkpoint)
    overrides += ["trainer.max_epochs=30", "trainer.limit_train_batches=null"]
    (tmp_path / "preempt").mkdir()
    proc = sweep(pattern, overrides)  # two identical jobs: #1 is preempted, #0 is the reference
    deadline = time.monotonic() + 150
    while not (lasts := list(tmp_path.glob("preempt/*/1/checkpoints/last.ckpt"))):
        assert proc.poll() is None and time.monotonic() < deadline, "job #1 never finished its first epoch"
        time.sleep(0.2)
    sweep_dir = lasts[0].parents[2]
    job = next(j for j in slurm("squeue", "-h", "-o", "%i").split() if j.endswith("_1"))
    slurm("scancel", "--signal=USR1", job)  # what --signal=USR1@90 sends before the time limit
    out = finish(proc)
    assert proc.returncode == 0, out[-3000:]
    assert [p.name for p in (tmp_path / "preempt").iterdir()] == [sweep_dir.name]

    run_dir = sweep_dir / "1"
    assert (run_dir / "hpc_ckpt_1.ckpt").exists()  # written at the batch end after the signal
    log = "".join(p.read_text() for p in (sweep_dir / ".submitit").glob(f"{job}/*_log.out"))
    assert "preemption signal: saved" in log and "requeued SLURM job" in log
    assert f"Restored all states from the checkpoint at {run_dir / 'hpc_ckpt_1.ckpt'}" in log
    history = slurm("sacct", "-D", "-n", "-X", "-P", "-o", "State", "-j", job).split()
    assert history == ["REQUEUED", "COMPLETED"], history
    reference, resumed = metrics(sweep_dir / "0"), metrics(run_dir)
    assert reference.keys() == resumed.keys() and reference
    assert resumed == pytest.approx(reference, rel=1e-6, abs=1e-9)
