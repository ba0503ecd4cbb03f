"""Fixtures of the robustness suite: one tiny electron sample, bad ROOT files made from it, and
ways to run the real CLI (a subprocess, or ``egml.cli.main`` in this process)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot

ROOT = Path(__file__).resolve().parents[2]
TREE = "tree"  # the electron_dnn tree (PHYSICS.md §7, T2)


def quiet_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EGML_DEBUG", "HYDRA_FULL_ERROR")}
    env.update({"WANDB_MODE": "offline", "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests'}", **extra})
    return env


def run_cli(args: list[str], cwd: Path, timeout: int = 240, **kwargs: Any) -> subprocess.CompletedProcess:
    """``python -m egml ARGS`` in a subprocess (the real entry point, exit code and stderr)."""
    env = kwargs.pop("env", None) or quiet_env()
    return subprocess.run(
        [sys.executable, "-m", "egml", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def error_line(stderr: str) -> str:
    """The one ``egml: error:`` line; asserts there is exactly one and no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("egml: error:")]
    assert len(lines) == 1, stderr[-3000:]
    if os.environ.get("EGML_MESSAGES_LOG"):  # collect the messages for docs/robustness.md
        with open(os.environ["EGML_MESSAGES_LOG"], "a") as log:
            log.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '?').split(' ')[0]}\t{lines[0]}\n")
    return lines[0]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Callable[..., tuple[int, str]]:
    """``egml.cli.main()`` in this process with ``sys.argv`` set: (exit code, the one error line)."""
    from egml.cli import main

    def call(args: list[str]) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["egml", *args])
        monkeypatch.delenv("EGML_DEBUG", raising=False)
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            main()
        return int(info.value.code or 0), error_line(capsys.readouterr().err)

    return call


def tiny(cache: Path, run_dir: Path) -> list[str]:
    """Overrides of a tiny electron_dnn run on given files (small model, debug trainer)."""
    return [
        "task=electron_dnn",
        "trainer=debug",
        "logger=csv",
        "callbacks.progress_bar=none",
        f"paths.cache_dir={cache}",
        f"hydra.run.dir={run_dir}",
        "model.depth=1",
        "model.width=8",
        "data.split=[0.6,0.2,0.2]",
        "task.module.evaluation.min_closure_entries=10",
        "task.baseline.min_entries=5",
        "task.baseline.n_bins=10",
    ]


FLOAT_BRANCHES = {  # electron_dnn inputs (conf/data/electron_dnn.yaml) with plausible ranges
    "averageInteractionsPerCrossing": (10, 60), "p_et_calo": (5, 120), "p_eta": (-2.4, 2.4),
    "p_Rhad1": (-0.05, 0.2), "p_Rhad": (-0.05, 0.2), "p_f3": (0, 0.1), "p_weta2": (0.008, 0.015),
    "p_Rphi": (0.6, 1.0), "p_Reta": (0.7, 1.0), "p_wtots1": (1, 5), "p_Eratio": (0.2, 1.0),
    "p_f1": (0, 0.5), "p_d0": (-1, 1), "p_d0Sig": (0, 5), "p_qd0Sig": (-5, 5), "p_dPOverP": (0, 0.5),
    "p_TRTPID": (0.01, 0.99), "p_deltaEta1": (-0.01, 0.01), "p_deltaPhiRescaled2": (-0.02, 0.02),
    "p_EoverP": (0.5, 3),
}  # fmt: skip
INT_BRANCHES = {
    "p_charge": (-1, 2), "p_numberOfInnermostPixelHits": (0, 3), "p_numberOfPixelHits": (0, 5),
    "p_numberOfSCTHits": (4, 10), "p_ambiguityType": (0, 6), "p_class6": (0, 6), "evt_runNo": (1, 2),
}  # fmt: skip
N_ENTRIES = 1200


@pytest.fixture(scope="session")
def electron_columns() -> dict[str, np.ndarray]:
    """Columns of a tiny electron_dnn-shaped sample (the branches its branch map reads)."""
    rng = np.random.default_rng(10)
    cols: dict[str, np.ndarray] = {
        k: rng.uniform(lo, hi, N_ENTRIES).astype(np.float32) for k, (lo, hi) in FLOAT_BRANCHES.items()
    }
    cols.update({k: rng.integers(lo, hi, N_ENTRIES).astype(np.int32) for k, (lo, hi) in INT_BRANCHES.items()})
    cols["evt_eventNo"] = np.arange(N_ENTRIES, dtype=np.int64)
    return cols


@pytest.fixture(scope="session")
def electron_file(tmp_path_factory: pytest.TempPathFactory, electron_columns: dict) -> Path:
    return write_tree(tmp_path_factory.mktemp("electrons") / "electrons.root", electron_columns)


def write_tree(path: Path, columns: dict[str, Any], tree: str = TREE) -> Path:
    """A TTree written with uproot (mktree + extend), LZ4 like the generator's files."""
    with uproot.recreate(path, compression=uproot.LZ4(1)) as f:
        types = {
            k: (v.dtype, v.shape[1:]) if isinstance(v, np.ndarray) else v.type.content
            for k, v in columns.items()
        }
        f.mktree(tree, types)
        if len(next(iter(columns.values()))):
            f[tree].extend(columns)
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, electron_file: Path, run_egml) -> Path:
    """One tiny electron_dnn training run (in process): its run dir."""
    base = tmp_path_factory.mktemp("trained")
    run_dir = base / "run"
    run_egml([*tiny(base / "cache", run_dir), f"paths.output_dir={run_dir}", f"data.files=[{electron_file}]"])
    return run_dir
