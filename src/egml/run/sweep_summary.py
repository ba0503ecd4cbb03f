"""A summary table of a Hydra multirun: one row per job with its overrides, status and key metrics.

Written as ``summary.csv`` and ``summary.md`` in the sweep dir when the multirun ends, also when
jobs failed: the SLURM launcher (hydra_plugins.egml_launcher.slurm) writes it before reporting
failed or cancelled jobs, and the callback writes it at exit when a local sweep stops on a failed
job. Status: what the launcher saw (ok, failed, cancelled, timeout), else ``job_status.json``
written at the job's end, else ok if the job wrote metrics.json and failed if not.
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from egml.atomic import atomic_write_text

log = logging.getLogger("egml")

OUTCOMES_FILE = "jobs.json"  # the launcher's record of each job's end (status, SLURM id)
JOB_STATUS_FILE = "job_status.json"  # written in a job's run dir by the callback when the job ends
HEADLINE_PREFIXES = ("test/", "baseline/")  # every such scalar goes in summary.csv
# summary.md shows the objective and these (README "headline keys"), where present.
HEADLINE_KEYS = (
    "test/loss",
    "test/rej70",
    "baseline/lh_rej70",
    "test/rej70_ratio_vs_lh",
    "test/eff_ratio_at_tight_rej",
    "test/sb_ratio_vs_baseline_medium",
    "test/iqr_ratio_vs_gbdt",
    "test/max_abs_median_bias",
)


@dataclass
class JobOutcome:
    num: int
    overrides: list[str]
    status: str  # ok | failed | cancelled | timeout
    slurm_id: str = ""
    detail: str = ""


def save_outcomes(sweep_dir: Path, outcomes: list[JobOutcome]) -> None:
    """Merge these outcomes into the sweep's record (an Optuna sweep launches several batches)."""
    merged = load_outcomes(sweep_dir)
    merged.update({o.num: o for o in outcomes})
    rows = [asdict(merged[k]) for k in sorted(merged)]
    atomic_write_text(Path(sweep_dir) / OUTCOMES_FILE, json.dumps(rows, indent=1))


def load_outcomes(sweep_dir: Path) -> dict[int, JobOutcome]:
    path = Path(sweep_dir) / OUTCOMES_FILE
    if not path.exists():
        return {}
    return {r["num"]: JobOutcome(**r) for r in json.loads(path.read_text())}


@dataclass
class JobRow:
    num: int
    overrides: list[str]
    status: str
    run_dir: str = ""
    objective: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    detail: str = ""


def _objective_key(cfg: DictConfig) -> str:
    if cfg.get("objective"):
        return str(cfg.objective)
    from egml.tasks.registry import task_class

    return str(task_class(cfg.task.name).default_objective)


def _read_job_dir(job_dir: Path) -> JobRow:
    hydra_cfg = OmegaConf.load(job_dir / ".hydra" / "hydra.yaml").hydra
    row = JobRow(int(hydra_cfg.job.num), [str(o) for o in hydra_cfg.overrides.task], "failed", str(job_dir))
    metrics_file = job_dir / "metrics.json"
    if metrics_file.exists():
        metrics = json.loads(metrics_file.read_text())
        row.metrics = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        row.status = "ok"
        try:  # only for jobs with metrics: the task's default objective means importing the task
            row.objective = _objective_key(OmegaConf.load(job_dir / ".hydra" / "config.yaml"))
        except Exception as exc:  # a job with an unknown task or no config still gets its row
            row.detail = str(exc)
    status_file = job_dir / JOB_STATUS_FILE
    if status_file.exists():
        recorded = json.loads(status_file.read_text())
        row.status, row.detail = recorded.get("status", row.status), recorded.get("detail", row.detail)
    return row


def summary_rows(sweep_dir: Path) -> list[JobRow]:
    """Every job of the sweep: those with a run dir, and those the launcher saw end without one."""
    sweep_dir = Path(sweep_dir)
    rows = {}
    for hydra_file in sorted(sweep_dir.glob("**/.hydra/hydra.yaml")):
        if ".submitit" not in hydra_file.parts:
            row = _read_job_dir(hydra_file.parent.parent)
            rows[row.num] = row
    for num, outcome in load_outcomes(sweep_dir).items():
        row = rows.setdefault(num, JobRow(num, outcome.overrides, outcome.status))
        row.status = outcome.status
        row.detail = outcome.detail or row.detail
    return [rows[k] for k in sorted(rows)]


def _metric_columns(rows: list[JobRow]) -> list[str]:
    objectives = list(dict.fromkeys(r.objective for r in rows if r.objective))
    keys = dict.fromkeys(k for r in rows for k in r.metrics if k.startswith(HEADLINE_PREFIXES))
    return objectives + [k for k in keys if k not in objectives]


def _varying(rows: list[JobRow]) -> tuple[list[str], list[list[str]]]:
    """Overrides shared by all jobs, and each job's own."""
    common = set.intersection(*(set(r.overrides) for r in rows)) if len(rows) > 1 else set()
    shared = [o for o in rows[0].overrides if o in common] if rows else []
    return shared, [[o for o in r.overrides if o not in common] for r in rows]


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.5g}"


def render(rows: list[JobRow], best: dict[str, Any] | None = None) -> tuple[str, str]:
    """(CSV text, Markdown text) of the summary."""
    columns = _metric_columns(rows)
    shared, own = _varying(rows)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["job", "status", "overrides", "objective", *columns, "run_dir", "detail"])
    for row, ovr in zip(rows, own):
        values = [_fmt(row.metrics.get(c)) for c in columns]
        writer.writerow([row.num, row.status, " ".join(ovr), row.objective, *values, row.run_dir, row.detail])

    objectives = list(dict.fromkeys(r.objective for r in rows if r.objective))
    md_cols = objectives + [c for c in HEADLINE_KEYS if c in columns and c not in objectives]
    n_ok = sum(r.status == "ok" for r in rows)
    lines = [f"# Sweep summary: {n_ok} of {len(rows)} jobs ok", ""]
    if shared:
        lines += [f"Common overrides: `{' '.join(shared)}`", ""]
    header = ["job", "status", "overrides", *md_cols]
    lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row, ovr in zip(rows, own):
        cells = [str(row.num), row.status, f"`{' '.join(ovr)}`" if ovr else ""]
        cells += [_fmt(row.metrics.get(c)) for c in md_cols]
        lines.append("| " + " | ".join(cells) + " |")
    problems = [r for r in rows if r.status != "ok"]
    if problems:
        lines += ["", "Jobs that did not finish:"] + [
            f"- job {r.num}: {r.status} {r.detail}".rstrip() for r in problems
        ]
    if best:
        lines += [
            "",
            f"Best trial ({best.get('name', 'optuna')}): value {best.get('best_value')}, "
            f"params `{' '.join(f'{k}={v}' for k, v in (best.get('best_params') or {}).items())}`",
        ]
    return buf.getvalue(), "\n".join(lines) + "\n"


def write_summary(sweep_dir: Path) -> tuple[Path, Path]:
    """Write summary.csv and summary.md in the sweep dir; returns their paths."""
    sweep_dir = Path(sweep_dir)
    best = None
    opt = sweep_dir / "optimization_results.yaml"
    if opt.exists():
        best = OmegaConf.to_container(OmegaConf.load(opt))
    csv_text, md_text = render(summary_rows(sweep_dir), best)
    paths = sweep_dir / "summary.csv", sweep_dir / "summary.md"
    atomic_write_text(paths[0], csv_text)
    atomic_write_text(paths[1], md_text)
    return paths


class SweepSummary(Callback):
    """Hydra callback: record each job's end in its run dir; write the summary when the multirun ends."""

    def __init__(self) -> None:
        self._written: set[str] = set()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = str(config.hydra.sweep.dir)
        atexit.register(self._write_once, sweep_dir)  # also when the sweep stops on a failed job

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._write_once(str(config.hydra.sweep.dir))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if config.hydra.mode is None or config.hydra.mode.name != "MULTIRUN":
            return
        from hydra.core.utils import JobStatus

        ok = job_return.status == JobStatus.COMPLETED
        detail = "" if ok else f"{type(job_return._return_value).__name__}: {job_return._return_value}"
        out = Path(config.hydra.runtime.output_dir)
        if out.is_dir():
            atomic_write_text(
                out / JOB_STATUS_FILE, json.dumps({"status": "ok" if ok else "failed", "detail": detail})
            )

    def _write_once(self, sweep_dir: str) -> None:
        if sweep_dir in self._written or not Path(sweep_dir).is_dir():
            return
        self._written.add(sweep_dir)
        try:
            paths = write_summary(Path(sweep_dir))
            log.info("sweep summary: %s", paths[1])
        except Exception as exc:  # the summary must never hide the sweep's own result or error
            log.warning("could not write the sweep summary in %s: %s", sweep_dir, exc)
