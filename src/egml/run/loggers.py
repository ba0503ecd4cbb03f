"""Experiment loggers: CSV always, W&B offline by default, one run per job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def build_loggers(cfg: DictConfig, run_dir: Path) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger

    loggers: list[Any] = []
    if cfg.logger.csv:
        loggers.append(CSVLogger(save_dir=str(run_dir), name="csv", version=""))
    wb = cfg.logger.wandb
    mode = os.environ.get("WANDB_MODE", wb.mode)
    if wb.enabled and mode != "disabled":
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_CONSOLE", "off")
        logger = WandbLogger(
            save_dir=str(run_dir),
            project=wb.project,
            entity=wb.entity,
            group=wb.group or _sweep_group(),
            tags=list(wb.tags),
            offline=mode == "offline",
            mode=mode,
            name=f"{cfg.task.name}-{run_dir.name}",
        )
        loggers.append(logger)
    hparams = OmegaConf.to_container(cfg, resolve=True)  # the resolved config, in every logger
    for logger in loggers:
        logger.log_hyperparams(hparams)
    return loggers


def _sweep_group() -> str | None:
    """Jobs of one Hydra multirun share a W&B group named after the sweep dir."""
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
        if hc.mode is not None and hc.mode.name == "MULTIRUN":
            return Path(hc.sweep.dir).name
    except (ValueError, ImportError):
        pass
    return None


def finish_wandb(loggers: list[Any]) -> None:
    """Close W&B runs cleanly (a multirun otherwise mixes jobs into one run)."""
    for logger in loggers:
        if type(logger).__name__ == "WandbLogger":
            import wandb

            if wandb.run is not None:
                wandb.finish()
