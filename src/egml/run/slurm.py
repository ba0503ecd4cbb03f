"""SLURM preemption for Lightning: checkpoint and requeue on the warning signal, at a step boundary.

Lightning's own auto-requeue saves ``hpc_ckpt_<n>.ckpt`` from inside the signal handler, i.e. at
an arbitrary point of a training step (after the forward pass has updated batch-norm statistics
but before the optimiser step, say); the resumed run then redoes that step on a slightly
different state. Here the handler only sets a flag; the checkpoint is written at the end of the
current training batch (where ``last.ckpt`` mid-epoch checkpoints are written too), agreed on by
all DDP ranks, and then the job is requeued with ``scontrol requeue``. SLURM restarts it with the
same command, in the same run dir, and Lightning resumes from the newest ``hpc_ckpt_*.ckpt``
(``ckpt_path`` null under SLURM; ``ckpt_path=last`` also finds it).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
from typing import Any

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Callback

log = logging.getLogger("egml")

REQUEUE_SIGNAL = signal.SIGUSR1  # the presets ask SLURM for --signal=USR1@90


def slurm_job_id() -> str | None:
    """This job's id as ``scontrol requeue`` wants it (``<array id>_<task>`` for array jobs)."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array else os.environ.get("SLURM_JOB_ID")
    return job if job and re.fullmatch(r"[0-9_]+", job) else None


class RequeueOnSignal(Callback):
    """On ``REQUEUE_SIGNAL``: at the next training-batch end save the hpc checkpoint and requeue."""

    def __init__(self, signum: int = REQUEUE_SIGNAL) -> None:
        self.signum = signum
        self.requested = False
        self.done = False
        signal.signal(signum, self._on_signal)  # installed now: a signal before fit is not fatal

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.requested = True

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.done:
            return
        # ranks must agree on the step to checkpoint at; one process needs no collective per batch
        requested = self.requested
        if trainer.world_size > 1:
            requested = trainer.strategy.reduce_boolean_decision(requested, all=False)
        if not requested:
            return
        self.done = True
        path = trainer._checkpoint_connector.hpc_save_path(trainer.default_root_dir)
        trainer.save_checkpoint(path)
        job = slurm_job_id()
        if trainer.is_global_zero and job:
            result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
            if result.returncode == 0:
                log.info("preemption signal: saved %s and requeued SLURM job %s", path, job)
            else:
                log.warning(
                    "preemption signal: saved %s, requeue of %s failed: %s", path, job, result.stderr.strip()
                )


def under_slurm() -> bool:
    """Inside a SLURM job step (``detect`` alone warns outside SLURM when srun is installed)."""
    return "SLURM_JOB_ID" in os.environ and SLURMEnvironment.detect()


def slurm_plugins() -> list[Any]:
    """Under SLURM: its cluster environment without Lightning's in-handler auto-requeue."""
    return [SLURMEnvironment(auto_requeue=False)] if under_slurm() else []


def slurm_callbacks() -> list[Any]:
    return [RequeueOnSignal()] if under_slurm() else []
