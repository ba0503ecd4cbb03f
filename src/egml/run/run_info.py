"""What a run records about itself: the resolved config, egml version and git commit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import egml
from egml.atomic import atomic_write_json, atomic_write_text


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the egml source tree (with ``-dirty`` when modified), or None."""
    where = path or Path(egml.__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def provenance() -> dict[str, Any]:
    return {
        "egml_version": egml.__version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "command": " ".join(sys.argv),
    }


def write_run_info(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Write ``config.yaml`` (resolved) and ``egml_run.json`` (version, commit) in the run dir."""
    info = provenance()
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    atomic_write_json(run_dir / "egml_run.json", info)
    return info
