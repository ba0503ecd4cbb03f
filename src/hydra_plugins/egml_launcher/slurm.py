"""Hydra's submitit SLURM launcher, made to wait for every job and report the ones that did not finish.

The stock launcher reads job results in order and raises at the first failed job, leaving the
others running unobserved and the sweep without a summary. This one waits for all jobs, writes
``summary.csv``/``summary.md`` in the sweep dir, and turns each job that failed or was cancelled
into a failed return with a one-line error naming the job (submitit notices cancelled jobs through
``sacct``, i.e. real accounting), which the sweeper then raises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from omegaconf import OmegaConf

from egml.errors import EgmlError

log = logging.getLogger(__name__)


def _status_of_state(state: str) -> str:
    """Map a SLURM job state (as sacct prints it) to the summary's status words."""
    state = state.upper()
    if "CANCELLED" in state or "PREEMPTED" in state:
        return "cancelled"
    if "TIMEOUT" in state:
        return "timeout"
    return "failed"


class SlurmLauncher(BaseSubmititLauncher):
    _EXECUTOR = "slurm"

    def _executor(self) -> Any:
        import submitit

        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init["slurm_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
        return executor

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from submitit.core.utils import FailedJobError, UncompletedJobError

        from egml.run.sweep_summary import JobOutcome, save_outcomes, write_summary

        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        executor = self._executor()
        log.info(f"Submitit 'slurm' sweep output dir : {sweep_dir}")
        params = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            params.append(
                (list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state())
            )
        jobs = executor.map_array(self, *zip(*params))

        returns: list[JobReturn | None] = []  # None: the job ended without a result
        outcomes: list[JobOutcome] = []
        for (overrides, _, idx, _, _), job in zip(params, jobs):
            ret, status, detail = None, "ok", ""
            try:
                ret = job.results()[0]
                if ret.status != JobStatus.COMPLETED:
                    status, detail = "failed", f"{type(ret._return_value).__name__}: {ret._return_value}"
            except (UncompletedJobError, FailedJobError) as exc:
                state = job.state  # from sacct: CANCELLED, TIMEOUT, FAILED, OUT_OF_MEMORY, ...
                status = _status_of_state(state) if isinstance(exc, UncompletedJobError) else "failed"
                detail = f"SLURM job {job.job_id}: {state}"
                if isinstance(exc, FailedJobError):
                    detail += f": {str(exc).strip().splitlines()[-1][:200]}"
            returns.append(ret)
            outcomes.append(JobOutcome(idx, list(filter_overrides(overrides)), status, job.job_id, detail))
        save_outcomes(sweep_dir, outcomes)
        if all(o.status == "ok" for o in outcomes):
            return returns  # type: ignore[return-value]

        # The sweeper raises the first FAILED return (Optuna: beyond max_failure_rate): make each
        # a one-line error naming the job, what happened, and where the summary is.
        summary = write_summary(sweep_dir)[1]
        n_bad = sum(o.status != "ok" for o in outcomes)
        head = f"{n_bad} of {len(outcomes)} sweep jobs did not finish (summary: {summary})"
        for i, o in enumerate(outcomes):
            if o.status != "ok":
                error = EgmlError(f"{head}: job #{o.num} [{' '.join(o.overrides)}] {o.status}: {o.detail}")
                returns[i] = JobReturn(overrides=o.overrides, status=JobStatus.FAILED, _return_value=error)
        return returns  # type: ignore[return-value]
