"""A private single-node SLURM cluster on localhost, with real accounting, for sweeps and tests.

``python -m egml.cluster start|stop|status [--dir DIR]``; everything lives under DIR
(default ``$EGML_SLURM_DIR`` or /tmp/egml-slurm); clients find it through ``SLURM_CONF``.
"""

from egml.cluster.config import Layout, default_dir
from egml.cluster.daemons import ClusterError, missing_binaries, running, start, stop

__all__ = ["ClusterError", "Layout", "default_dir", "missing_binaries", "running", "start", "stop"]
