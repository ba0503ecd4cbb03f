"""Shared fixtures: a session-wide cache of generated samples, and in-process runs of egml."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def egml_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache dir for the whole session, so each tiny synthetic sample is generated once."""
    return tmp_path_factory.mktemp("egml-cache")


def _tiny_overrides(
    cache: Path, run_dir: Path, n_train: int = 3000, n_val: int = 800, n_test: int = 2000
) -> list[str]:
    """Overrides for a tiny, fast run: debug trainer, CSV logger, small synthetic samples."""
    return [
        "trainer=debug",
        "logger=csv",
        "callbacks.progress_bar=none",
        f"paths.cache_dir={cache}",
        f"paths.output_dir={run_dir}",
        f"hydra.run.dir={run_dir}",
        f"data.synthetic.n_train={n_train}",
        f"data.synthetic.n_val={n_val}",
        f"data.synthetic.n_test={n_test}",
    ]


def _run_in_process(overrides: list[str]) -> float | None:
    """Compose the real config tree and run its stage in this process (no Hydra app start-up)."""
    from hydra import compose, initialize_config_dir

    from egml.cli import CONFIG_DIR
    from egml.run.stages import run_stage

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[o for o in overrides if not o.startswith("hydra.")])
    return run_stage(cfg)


@pytest.fixture(scope="session")
def tiny_overrides():
    return _tiny_overrides


@pytest.fixture(scope="session")
def run_egml():
    return _run_in_process
