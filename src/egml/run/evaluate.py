"""The eval and predict stages: apply a trained network (and its baseline) to new files.

``python -m egml task=T stage=eval ckpt_path=<run>/checkpoints/best.ckpt data.files=[...]``
rebuilds the task from the training run's config and checkpoint, scores every entry of the
files (no train/val/test split) and writes, into this run's dir: ``predictions.root`` (scores,
passthrough fields, baseline outputs, working-point decisions, and ``file_index``/``entry`` of
each candidate in its input file), ``metrics.json`` and plots (eval only; needs the label).

Working points are the maps saved at training (``<run>/working_points.json``), applied, never
re-fitted; they are copied to this run's ``working_points.json``. Every task's ``evaluate`` gets
them as ``saved_working_points`` and uses them for its WP metrics and plots; the decisions
(``wp_<key>``, ``baseline_wp_<wp>``; :meth:`egml.tasks.base.EgmlTask.working_point_column`) and
the ``eval/wp/...`` pass fractions are those of the training maps.

``stage=predict`` needs no label or truth branches: it writes scores and WP decisions only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from omegaconf import DictConfig

from egml.evaluation.working_points import save_working_points
from egml.run.eval_config import eval_files
from egml.run.eval_data import build_eval_datamodule
from egml.run.loggers import build_loggers, finish_wandb, log_run_artifacts
from egml.run.outputs import write_metrics, write_predictions
from egml.run.restore import DATAMODULE_KEY, open_trained_run, restore_baseline, restore_working_points
from egml.tasks.base import concat_rows

log = logging.getLogger("egml")


def predict_all(task: Any, dm: Any, cfg: DictConfig) -> dict[str, np.ndarray]:
    """Scores and passthrough fields of every entry, in file order (the trainer's precision)."""
    t = cfg.trainer
    trainer = L.Trainer(
        accelerator=t.get("accelerator", "cpu"),
        devices=1,
        precision=t.get("precision", "32-true"),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    rows = trainer.predict(task, datamodule=dm)
    return concat_rows(list(rows or []))


def entry_columns(dm: Any) -> dict[str, np.ndarray]:
    """Input file index and entry of each candidate (memory mode; rows are read in order)."""
    ds = dm.datasets["test"]
    table = getattr(ds, "table", None)
    if table is None or getattr(table, "entry", None) is None:
        return {}
    rows = np.sort(ds.rows)
    return {
        "file_index": np.asarray(table.file_id)[rows].astype(np.int32),
        "entry": np.asarray(table.entry)[rows],
    }


def baseline_predictions(baseline: Any, dm: Any, labelled: bool) -> dict[str, np.ndarray]:
    from egml.run.data_source import split_columns

    if baseline is None:
        return {}
    if not hasattr(dm.datasets["test"], "rows"):
        log.warning("baseline not applied: data.mode=stream has no in-memory columns")
        return {}
    try:
        return dict(baseline.predict(split_columns(dm, "test")))
    except KeyError as exc:
        if labelled:
            raise
        log.warning("baseline not applied: the files lack field %s", exc)
        return {}


def task_metrics(
    task: Any, predictions: dict[str, np.ndarray], out_dir: Path, maps: dict[str, Any]
) -> dict[str, Any]:
    """The task's own metrics and plots, with the training maps applied (nothing re-fitted)."""
    return dict(task.evaluate(predictions, out_dir, saved_working_points=maps))


def wp_metrics(decisions: dict[str, np.ndarray], label: np.ndarray | None) -> dict[str, float]:
    """Pass fraction of each training working point, per true class."""
    out: dict[str, float] = {}
    for column, passed in decisions.items():
        out[f"eval/wp/{column}_pass_all"] = float(passed.mean()) if passed.size else float("nan")
        if label is None:
            continue
        for c in np.unique(label):
            sel = label == c
            out[f"eval/wp/{column}_pass_label{int(c) if float(c).is_integer() else c}"] = float(
                passed[sel].mean()
            )
    return out


def log_to_loggers(cfg: DictConfig, out_dir: Path, metrics: dict[str, Any]) -> None:
    """Scalar metrics, plots, tables and ROC curves of an eval run to the configured loggers."""
    loggers = build_loggers(cfg, out_dir)
    for logger in loggers:
        logger.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        logger.save()
    log_run_artifacts(loggers, out_dir)
    finish_wandb(loggers)


def evaluate_stage(cfg: DictConfig) -> dict[str, Any]:
    """Run ``stage=eval`` (labelled files) or ``stage=predict`` (any files); returns the metrics."""
    t0 = time.perf_counter()
    labelled = cfg.stage == "eval"
    run = open_trained_run(cfg)
    cfg = run.cfg
    files = eval_files(cfg)
    dm = build_eval_datamodule(cfg, type(run.task), files, labelled, run.ckpt.get(DATAMODULE_KEY))
    dm.setup("predict")
    predictions = predict_all(run.task, dm, cfg)
    predictions.update(entry_columns(dm))
    baseline = restore_baseline(type(run.task), cfg, run.train_dir)
    predictions.update(baseline_predictions(baseline, dm, labelled))

    maps = restore_working_points(run.train_dir)
    metrics: dict[str, Any] = {"eval/ckpt_path": str(run.ckpt_file), "eval/files": files}
    if labelled:
        metrics.update(task_metrics(run.task, predictions, run.out_dir, maps))
    usable = {k: wp for k, wp in maps.items() if wp.score in predictions}
    for key in sorted(set(maps) - set(usable)):  # e.g. a baseline map when the baseline could not run
        log.warning("working point %s not applied: score %s is not available", key, maps[key].score)
    decisions = run.task.apply_working_points(predictions, usable)
    predictions.update(decisions)
    if maps:
        save_working_points(
            run.out_dir / "working_points.json", maps, metadata={"applied_from": str(run.train_dir)}
        )
    label = np.asarray(predictions[cfg.data.label]) if labelled and cfg.data.label in predictions else None
    metrics.update(wp_metrics(decisions, label))
    metrics["eval/n_candidates"] = len(next(iter(predictions.values()))) if predictions else 0
    metrics["timing/total_s"] = time.perf_counter() - t0
    write_predictions(run.out_dir / "predictions.root", predictions)
    if labelled:
        write_metrics(run.out_dir / "metrics.json", metrics)
        log_to_loggers(cfg, run.out_dir, metrics)
    log.info("%s of %d candidates written to %s", cfg.stage, metrics["eval/n_candidates"], run.out_dir)
    return metrics
