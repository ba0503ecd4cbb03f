"""Dispatch a composed config to its stage."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

import egml
from egml.errors import EgmlError
from egml.run.config_check import validate

log = logging.getLogger("egml")


def run_stage(cfg: DictConfig) -> float | None:
    """Validate the config and run ``cfg.stage`` (train, eval, predict, export); returns the sweep objective (train only)."""
    validate(cfg)
    if cfg.stage == "train":
        from egml.run.train import train

        return train(cfg)
    if cfg.stage in ("eval", "predict"):
        from egml.run.evaluate import evaluate_stage

        evaluate_stage(cfg)
        return None
    if cfg.stage == "export":
        from egml.run.export import export_stage

        export_stage(cfg)
        return None
    raise EgmlError(f"config key 'stage': stage '{cfg.stage}' is not implemented in egml {egml.__version__}")
