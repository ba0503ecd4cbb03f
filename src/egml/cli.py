"""The `python -m egml` Hydra application.

Configs live in the package (``egml/conf``, also reachable as ``conf/`` at the repository
root), so the app runs from any working directory. User-facing errors become one line on
stderr and exit code 2 (``EGML_DEBUG=1`` shows the traceback): errors of the run itself
(``ValueError``, ``OSError``) and Hydra's own config errors (unknown override, missing group,
a run dir that cannot be created), which Hydra would otherwise print over several lines.
"""

from __future__ import annotations

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")

# Exceptions that mean "bad input or config", reported in one line; anything else is a bug.
_USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)
# Set by main() so that Hydra raises its config errors to us instead of printing them itself.
_RAISE_FLAG = "_EGML_HYDRA_RAISE"


@hydra.main(config_path=CONFIG_DIR, config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> float | None:
    from egml.errors import report_and_exit
    from egml.run.stages import run_stage

    _restore_hydra_full_error()  # from here on (and in child processes) Hydra behaves as usual
    try:
        return run_stage(cfg)
    except _USER_ERRORS as exc:
        report_and_exit(exc)
    return None


def _restore_hydra_full_error() -> None:
    if os.environ.pop(_RAISE_FLAG, None) is not None:
        os.environ.pop("HYDRA_FULL_ERROR", None)


def _hydra_error_line(exc: BaseException) -> str:
    """Hydra's config error (and its OmegaConf cause) as one line."""
    parts = [str(exc)]
    if exc.__cause__ is not None and str(exc.__cause__) not in parts[0]:
        parts.append(str(exc.__cause__))
    text = " ".join("; ".join(parts).replace("\n", "; ").split())
    return text.replace(".;", ";").replace(";;", ";")


def main() -> None:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from egml.errors import EgmlError, debug_enabled, report_and_exit

    if debug_enabled():  # Hydra's full traceback too
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")
        _app()
        return
    if "HYDRA_FULL_ERROR" not in os.environ:
        os.environ["HYDRA_FULL_ERROR"] = "1"
        os.environ[_RAISE_FLAG] = "1"
    try:
        _app()
    except (HydraException, OmegaConfBaseException) as exc:
        report_and_exit(EgmlError(f"config: {_hydra_error_line(exc)}"))
    except OSError as exc:  # e.g. Hydra cannot create the run dir
        from egml.errors import describe_os_error

        report_and_exit(EgmlError(describe_os_error(exc)))
    finally:
        _restore_hydra_full_error()
