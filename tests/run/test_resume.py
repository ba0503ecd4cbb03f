"""Exact resume and determinism of the train stage, with real processes and a real SIGKILL.

A run killed mid-epoch (after a mid-epoch ``last.ckpt``) and re-run with ``ckpt_path=last`` in the
same run dir must end with the same metrics.json and predictions.root as an uninterrupted run
with the same seed; two runs with the same seed must be identical; ``ckpt_path=last`` on a
finished run trains nothing more and writes the same outputs again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import uproot

pytestmark = pytest.mark.slow  # real multi-process runs: ~1-3 min per run on 2 shared cores
STEPS_PER_CKPT = 3
BATCH = 64
N_TRAIN = 1000


def overrides(cache: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        "task=electron_dnn",
        "trainer.max_epochs=2",
        "logger=csv",
        "callbacks.progress_bar=none",
        f"callbacks.checkpoint.every_n_train_steps={STEPS_PER_CKPT}",
        f"data.batch_size={BATCH}",
        f"paths.cache_dir={cache}",
        f"paths.output_dir={run_dir}",
        f"hydra.run.dir={run_dir}",
        f"data.synthetic.n_train={N_TRAIN}",
        "data.synthetic.n_val=300",
        "data.synthetic.n_test=500",
        "task.module.evaluation.plot_formats=[]",
        "model.dropout=0.2",  # dropout draws from the global RNG: its state must survive the resume
        *extra,
    ]


def start(args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "egml", *args],
        cwd=cwd,
        env={**os.environ, "WANDB_MODE": "offline", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run(args: list[str], cwd: Path) -> None:
    proc = start(args, cwd)
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-3000:]


def comparable_metrics(run_dir: Path) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k != "provenance" and not k.startswith("timing/")}


def predictions(run_dir: Path) -> dict[str, np.ndarray]:
    with uproot.open(run_dir / "predictions.root") as f:
        return {k: np.asarray(v) for k, v in f["predictions"].arrays(library="np").items()}


def assert_same_outputs(a: Path, b: Path) -> None:
    ma, mb = comparable_metrics(a), comparable_metrics(b)
    assert ma.keys() == mb.keys()
    assert "test/rej70" in ma and "test/loss" in ma
    assert ma == mb, {k: (ma[k], mb[k]) for k in ma if ma[k] != mb[k]}
    pa, pb = predictions(a), predictions(b)
    assert pa.keys() == pb.keys() and len(next(iter(pa.values()))) > 0
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)


def global_step(ckpt: Path) -> int:
    return int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])


@pytest.fixture(scope="module")
def reference(egml_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run (its subprocess also generates the tiny synthetic samples)."""
    run_dir = tmp_path_factory.mktemp("reference")
    run(overrides(egml_cache, run_dir), run_dir)
    return run_dir


def test_killed_mid_epoch_then_resumed_equals_uninterrupted(
    reference: Path, egml_cache: Path, tmp_path: Path
):
    steps_per_epoch = global_step(reference / "checkpoints" / "last.ckpt") // 2
    assert steps_per_epoch > 2 * STEPS_PER_CKPT  # mid-epoch checkpoints exist
    last = tmp_path / "checkpoints" / "last.ckpt"
    # slow steps so the kill lands inside the second epoch, after a mid-epoch checkpoint
    proc = start(overrides(egml_cache, tmp_path), tmp_path, EGML_DEBUG_STEP_SLEEP="0.15")
    killed_at = None
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if last.exists():
            step = global_step(last)  # complete: checkpoints are written atomically
            if step > steps_per_epoch and step % steps_per_epoch:
                proc.send_signal(signal.SIGKILL)
                killed_at = step
                break
        time.sleep(0.05)
    out, _ = proc.communicate(timeout=60)
    assert killed_at is not None, f"the run was not killed mid-epoch:\n{out[-3000:]}"
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "metrics.json").exists()
    state = torch.load(last, map_location="cpu", weights_only=True)
    assert state["global_step"] % steps_per_epoch != 0  # really mid-epoch
    loader_state = state["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert loader_state["epoch"] == 1 and 0 < loader_state["batches"] < steps_per_epoch

    run(overrides(egml_cache, tmp_path, "ckpt_path=last"), tmp_path)
    assert global_step(last) == 2 * steps_per_epoch
    assert_same_outputs(reference, tmp_path)


def test_same_seed_gives_identical_outputs(reference: Path, egml_cache: Path, tmp_path: Path, run_egml):
    run_egml(overrides(egml_cache, tmp_path))  # in-process this time: same result as a fresh process
    assert_same_outputs(reference, tmp_path)


def test_last_on_finished_run_retrains_nothing(reference: Path, egml_cache: Path, run_egml):
    """Documented behaviour: the final state is restored, no step is trained, outputs are remade."""
    last = reference / "checkpoints" / "last.ckpt"
    step, stamp = global_step(last), last.stat().st_mtime_ns
    before = comparable_metrics(reference)
    run_egml(overrides(egml_cache, reference, "ckpt_path=last"))
    assert global_step(last) == step
    assert last.stat().st_mtime_ns == stamp  # nothing trained, nothing re-saved
    assert comparable_metrics(reference) == before
