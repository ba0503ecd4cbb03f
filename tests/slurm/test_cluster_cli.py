"""`python -m egml.cluster`: status of a running and of an absent cluster, missing binaries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from egml.cluster.daemons import ClusterError, _exe


def _cluster(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egml.cluster", *args], capture_output=True, text=True)


def test_status_of_a_dir_without_cluster_says_stopped(tmp_path):
    res = _cluster("status", "--dir", str(tmp_path))
    assert res.returncode == 1
    assert res.stdout.split() == [
        w for d in ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd") for w in (d, "stopped")
    ]
    assert _cluster("stop", "--dir", str(tmp_path)).stdout.strip() == "stopped: nothing was running"


def test_missing_binary_is_one_clear_line():
    with pytest.raises(
        ClusterError, match=r"'egml-no-such-daemon' not found \(install: apt-get install .*slurmctld"
    ):
        _exe("egml-no-such-daemon")


@pytest.mark.slurm
def test_status_of_the_running_cluster_prints_slurm_conf(slurm_cluster):
    res = _cluster("status", "--dir", str(slurm_cluster.root))
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("running, pid") == 5
    assert f"export SLURM_CONF={slurm_cluster.slurm_conf}" in res.stdout
    assert "idle" in subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout
