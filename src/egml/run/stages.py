"""Dispatch a composed config to its stage."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

import egml
from egml.errors import EgmlError
from egml.run.config_check import validate

log = logging.getLogger("egml")


def run_stage(cfg: DictConfig) -> float | None:
    """Validate the config and run ``cfg.stage``; returns the sweep objective (train only)."""
    validate(cfg)
    if cfg.stage == "train":
        from egml.run.train import train

        return train(cfg)
    # eval/predict/export are named in the config schema so that configs stay stable; their
    # implementations land with the evaluation/export work.
    raise EgmlError(f"config key 'stage': stage '{cfg.stage}' is not implemented in egml {egml.__version__} yet")
