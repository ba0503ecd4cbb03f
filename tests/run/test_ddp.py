"""Real 2-process CPU DDP (gloo) through the CLI, outside SLURM.

Each run records, per rank and epoch, the (file, entry) id of every training row it used
(``EGML_DEBUG_BATCH_IDS``); every training entry must be used exactly once per epoch over both
ranks. Only rank 0 writes the outputs, once, and the predictions cover the test split exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot

from egml.data.datasets import entry_ids

pytestmark = pytest.mark.slow  # real multi-process runs: ~1-3 min per run on 2 shared cores
EPOCHS = 2


def tiny(task: str, cache: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        f"task={task}",
        "trainer=ddp_cpu",
        f"trainer.max_epochs={EPOCHS}",
        "callbacks.progress_bar=none",
        f"paths.cache_dir={cache}",
        f"paths.output_dir={run_dir}",
        f"hydra.run.dir={run_dir}",
        "data.synthetic.n_train=600",
        "data.synthetic.n_val=200",
        "data.synthetic.n_test=300",
        "data.batch_size=64",
        "task.module.evaluation.plot_formats=[]",
        *extra,
    ]


def data_module(overrides: list[str]):
    """The run's data module, in memory, built by the same code as the run."""
    from hydra import compose, initialize_config_dir

    from egml.cli import CONFIG_DIR
    from egml.run.data_source import build_datamodule
    from egml.tasks.registry import task_class

    keep = [o for o in overrides if not o.startswith(("hydra.", "trainer", "data.mode"))]
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=keep)
    dm = build_datamodule(cfg, task_class(cfg.task.name))
    dm.setup()
    return dm


@pytest.mark.parametrize(
    ("task", "mode", "logger"),
    [("electron_dnn", "memory", "default"), ("photon_cnn", "stream", "csv")],
)
def test_ddp_uses_each_entry_once_and_rank0_writes(task, mode, logger, egml_cache: Path, tmp_path: Path):
    overrides = tiny(task, egml_cache, tmp_path, f"data.mode={mode}", f"logger={logger}")
    env = {**os.environ, "EGML_DEBUG_BATCH_IDS": "1", "WANDB_MODE": "offline"}
    proc = subprocess.run(
        [sys.executable, "-m", "egml", *overrides],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    dm = data_module(overrides)
    train = dm.datasets["train"]
    expected = np.sort(entry_ids(train.table.file_id[train.rows], train.table.entry[train.rows]))
    for epoch in range(EPOCHS):
        per_rank = [np.load(tmp_path / "debug" / f"train_ids_rank{r}_epoch{epoch}.npy") for r in (0, 1)]
        assert all(len(ids) > 0 for ids in per_rank)
        assert abs(len(per_rank[0]) - len(per_rank[1])) <= 64  # shares of near-equal size
        np.testing.assert_array_equal(np.sort(np.concatenate(per_rank)), expected)  # each entry once

    # rank 1 ran (its own Hydra log) but wrote no outputs; rank 0 wrote each output once
    rank1_log = (tmp_path / "train_ddp_process_1.log").read_text()
    assert "GLOBAL_RANK: 1" in rank1_log and "run dir:" not in rank1_log
    assert sorted(p.name for p in tmp_path.glob("**/metrics.json")) == ["metrics.json"]
    assert len(list(tmp_path.glob("**/predictions.root"))) == 1
    assert len(list(tmp_path.glob("**/egml_run.json"))) == 1
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test/loss"] is not None
    if logger == "default":  # W&B (offline): one run for the job
        assert len(list((tmp_path / "wandb").glob("offline-run-*"))) == 1

    # predictions: the whole test split, each entry once, in the split's order
    test = dm.datasets["test"]
    rows = np.sort(test.rows)
    with uproot.open(tmp_path / "predictions.root") as f:
        pred = f["predictions"].arrays(library="np")
    compared = [k for k in pred if k in test.table.columns and isinstance(test.table.columns[k], np.ndarray)]
    assert "label" in compared and "eta" in compared
    for k in compared:
        np.testing.assert_array_equal(pred[k], np.asarray(test.table.columns[k])[rows], err_msg=k)
