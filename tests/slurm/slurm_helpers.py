"""Helpers of the SLURM tests: start a sweep on the session's cluster, wait for it, query SLURM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def tiny(cache: Path, n_train: int = 3000) -> list[str]:
    """Tiny electron_dnn jobs: debug trainer, small synthetic samples, no progress bar, no plots
    (~10 s of CPU per job; tests/tasks/test_plots.py checks them)."""
    return [
        "task=electron_dnn",
        "trainer=debug",
        "callbacks.progress_bar=none",
        "task.module.evaluation.plot_formats=[]",
        f"paths.cache_dir={cache}",
        f"data.synthetic.n_train={n_train}",
        "data.synthetic.n_val=800",
        "data.synthetic.n_test=2000",
    ]


def sweep(sweep_dir: Path | str, overrides: list[str], **popen) -> subprocess.Popen:
    """Start ``python -m egml -m ... hydra/launcher=slurm_local`` in the sweep dir's parent
    (``sweep_dir`` may hold a Hydra interpolation such as ``${now:...}``)."""
    cmd = [
        sys.executable,
        "-m",
        "egml",
        "-m",
        "hydra/launcher=slurm_local",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "EGML_DEBUG": "0"}
    return subprocess.Popen(
        cmd,
        cwd=Path(str(sweep_dir)).parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def finish(proc: subprocess.Popen, timeout: float = 900) -> str:
    """Wait for a sweep and return its output; a hang guard, not a timing check (a loaded 2-core
    machine takes minutes to generate the first sample and run a few jobs)."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"sweep did not end within {timeout} s:\n{out[-3000:]}")
    return out


def slurm(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, env=os.environ).stdout


def metrics(run_dir: Path) -> dict[str, float]:
    data = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in data.items() if k.startswith("test/") and isinstance(v, (int, float))}
