"""Checkpointing (last and best), early stopping, progress bar; `ckpt_path=last` resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from egml.errors import EgmlError


def build_callbacks(cfg: DictConfig, run_dir: Path) -> list[Any]:
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    c = cfg.callbacks
    callbacks: list[Any] = [
        ModelCheckpoint(
            dirpath=str(run_dir / "checkpoints"),
            filename="best",
            monitor=c.checkpoint.monitor,
            mode=c.checkpoint.mode,
            save_last=c.checkpoint.save_last,
            save_top_k=c.checkpoint.save_top_k,
            enable_version_counter=False,
        )
    ]
    if c.early_stopping.enabled:
        callbacks.append(EarlyStopping(monitor=c.early_stopping.monitor, patience=c.early_stopping.patience))
    if c.progress_bar == "rich":
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=True))
    return callbacks


def resolve_ckpt_path(ckpt_path: str | None, run_dir: Path) -> str | None:
    """``last`` means this run dir's latest checkpoint if there is one (else start fresh)."""
    if ckpt_path in (None, "", "null"):
        return None
    if ckpt_path == "last":
        last = run_dir / "checkpoints" / "last.ckpt"
        return str(last) if last.exists() else None
    path = Path(ckpt_path)
    if not path.is_file():
        raise EgmlError(
            f"config key 'ckpt_path': checkpoint '{path}' does not exist (expected a .ckpt file or 'last')"
        )
    return str(path)
