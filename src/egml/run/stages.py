"""Dispatch a composed config to its stage."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from egml.run.config_check import validate

log = logging.getLogger("egml")


def run_stage(cfg: DictConfig) -> float | None:
    """Validate the config and run ``cfg.stage``; returns the sweep objective (train only)."""
    validate(cfg)
    if cfg.stage == "train":
        from egml.run.train import train

        return train(cfg)
    if cfg.stage in ("eval", "predict"):
        from egml.run.evaluate import evaluate_checkpoint

        evaluate_checkpoint(cfg)
        return None
    if cfg.stage == "export":
        from egml.run.export import export

        export(cfg)
        return None
    raise AssertionError(cfg.stage)  # validate() has checked the stage
