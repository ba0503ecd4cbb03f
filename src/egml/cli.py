"""The `python -m egml` Hydra application.

Configs live in the package (``egml/conf``, also reachable as ``conf/`` at the repository
root), so the app runs from any working directory. User-facing errors become one line on
stderr and exit code 2 (``EGML_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")

# Exceptions that mean "bad input or config", reported in one line; anything else is a bug.
_USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)


@hydra.main(config_path=CONFIG_DIR, config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> float | None:
    from egml.errors import report_and_exit
    from egml.run.stages import run_stage

    try:
        return run_stage(cfg)
    except _USER_ERRORS as exc:
        report_and_exit(exc)
    return None


def _shorten_hydra_errors() -> None:
    # Hydra prints its own one-line message for config errors (unknown key, missing group)
    # unless HYDRA_FULL_ERROR is set; keep that behaviour in step with EGML_DEBUG.
    from egml.errors import debug_enabled

    if debug_enabled():
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")


def main() -> None:
    _shorten_hydra_errors()
    _app()
