"""Checkpointing (best, last, mid-epoch), early stopping, progress bar; `ckpt_path=last` resume.

Exact resume: ``last.ckpt`` is also written every ``callbacks.checkpoint.every_n_train_steps``
optimiser steps (mid-epoch), every checkpoint is written to a temporary name and renamed
(:class:`AtomicCheckpointIO`: a kill mid-write leaves the previous complete file), the global
RNG states travel in the checkpoint (:class:`RngState`) and the train loader skips the batches
already used (:mod:`egml.data.resumable`).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig

from egml.atomic import atomic_path
from egml.errors import EgmlError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch.save, to a temporary name in the same directory, then renamed."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


class RngState(Callback):
    """Saves the global torch/numpy/python RNG states in each checkpoint and restores them just
    before the first training batch after a resume (dropout then draws what it would have).

    Stored as tensors and lists (loadable with ``weights_only=True``). Under DDP the checkpoint
    holds rank 0's states, given to every rank on resume.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (the global one is what we save)
        version, state, gauss_next = random.getstate()
        return {
            "torch": torch.get_rng_state(),
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
            "python": [version, list(state), gauss_next],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self._pending is None:
            return
        s, self._pending = self._pending, None
        torch.set_rng_state(s["torch"])
        kind, keys, pos, has_gauss, gauss = s["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
        version, state, gauss_next = s["python"]
        random.setstate((version, tuple(state), gauss_next))


class BatchIdRecorder(Callback):
    """Debug: writes the ``entry_id`` of every training row, per rank and epoch, to
    ``<out_dir>/train_ids_rank<r>_epoch<e>.npy`` (see ``EgmlDataModule.record_entry_ids``)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir, self._ids = Path(out_dir), []  # type: ignore[var-annotated]

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        from egml.data.datasets import ENTRY_ID

        self._ids.append(batch.pop(ENTRY_ID).cpu().numpy())

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, np.int64)
        np.save(self.out_dir / f"train_ids_rank{trainer.global_rank}_epoch{trainer.current_epoch}.npy", ids)
        self._ids = []


class StepSleep(Callback):
    """Debug: sleeps after each training step, so a test can kill a run at a chosen point."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        time.sleep(self.seconds)


def debug_callbacks(run_dir: Path) -> list[Any]:
    """Callbacks switched on by environment variables (tests, debugging)."""
    out: list[Any] = []
    if os.environ.get("EGML_DEBUG_BATCH_IDS"):
        out.append(BatchIdRecorder(run_dir / "debug"))
    if os.environ.get("EGML_DEBUG_STEP_SLEEP"):
        out.append(StepSleep(float(os.environ["EGML_DEBUG_STEP_SLEEP"])))
    return out


def build_callbacks(cfg: DictConfig, run_dir: Path) -> list[Any]:
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    c = cfg.callbacks
    ckpt_dir = str(run_dir / "checkpoints")
    callbacks: list[Any] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor=c.checkpoint.monitor,
            mode=c.checkpoint.mode,
            save_last=c.checkpoint.save_last,
            save_top_k=c.checkpoint.save_top_k,
            enable_version_counter=False,
        ),
        RngState(),
    ]
    every = c.checkpoint.get("every_n_train_steps")
    if every:  # mid-epoch last.ckpt for preemption; keeps no other file
        callbacks.append(
            ModelCheckpoint(
                dirpath=ckpt_dir,
                save_top_k=0,
                save_last=True,
                every_n_train_steps=int(every),
                enable_version_counter=False,
            )
        )
    if c.early_stopping.enabled:
        callbacks.append(EarlyStopping(monitor=c.early_stopping.monitor, patience=c.early_stopping.patience))
    callbacks += debug_callbacks(run_dir)
    if c.progress_bar == "rich":
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=True))
    return callbacks


def resolve_ckpt_path(ckpt_path: str | None, run_dir: Path) -> str | None:
    """``last``: the newest of this run dir's ``checkpoints/last.ckpt`` and SLURM's
    ``hpc_ckpt_<n>.ckpt`` (written on preemption); none there means start fresh. On a finished
    run, ``last`` restores the final state: nothing more is trained (unless ``trainer.max_epochs``
    was raised) and the test pass and outputs are made again."""
    if ckpt_path in (None, "", "null"):
        return None
    if ckpt_path == "last":
        found = [
            p
            for p in [run_dir / "checkpoints" / "last.ckpt", *run_dir.glob("hpc_ckpt_*.ckpt")]
            if p.is_file()
        ]
        return str(max(found, key=lambda p: p.stat().st_mtime_ns)) if found else None
    path = Path(ckpt_path)
    if not path.is_file():
        raise EgmlError(
            f"config key 'ckpt_path': checkpoint '{path}' does not exist (expected a .ckpt file or 'last')"
        )
    return str(path)
