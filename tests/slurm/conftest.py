"""A real single-node SLURM cluster (egml.cluster) for the session, and sweeps run against it.

Skips with the reason when SLURM, munge or MariaDB are not installed (or not root); with
``EGML_REQUIRE_SLURM=1`` (CI) that is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from egml.cluster import ClusterError, Layout, missing_binaries, start, stop


def _unavailable(reason: str) -> None:
    if os.environ.get("EGML_REQUIRE_SLURM") == "1":
        pytest.fail(f"EGML_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Layout]:
    missing = missing_binaries()
    if missing:
        _unavailable(f"SLURM/munge/MariaDB not installed (missing {', '.join(missing)})")
    if os.geteuid() != 0:
        _unavailable("the local SLURM cluster needs root (munged runs as user munge)")
    root = Path(tempfile.mkdtemp(prefix="egml-slurm-", dir="/tmp"))  # short: unix socket paths
    try:
        layout = start(root)
    except ClusterError as exc:
        stop(root)
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(str(exc))
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(layout.slurm_conf)
    yield layout
    stop(root)
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old
    shutil.rmtree(root, ignore_errors=True)
