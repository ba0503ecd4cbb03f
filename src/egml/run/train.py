"""The train stage: fit the network (and the task's classical baseline on the same training
split), test both on the held-out split, and write the run's outputs."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from egml.run.callbacks import AtomicCheckpointIO, build_callbacks, resolve_ckpt_path
from egml.run.data_source import build_datamodule, normalization_stats, split_columns
from egml.run.loggers import build_loggers, finish_wandb, log_run_artifacts
from egml.run.outputs import write_metrics, write_predictions
from egml.run.restore import check_resumable
from egml.run.run_info import write_run_info
from egml.tasks.registry import task_class

log = logging.getLogger("egml")


def run_dir_of(cfg: DictConfig) -> Path:
    return Path(cfg.paths.output_dir).resolve()


def build_task(cfg: DictConfig, normalization: dict[str, Any] | None) -> Any:
    cls = task_class(cfg.task.name)
    model = instantiate(cfg.model)
    kwargs = OmegaConf.to_container(cfg.task.module, resolve=True)
    return cls(model=model, normalization=normalization, **kwargs)


def build_trainer(cfg: DictConfig, run_dir: Path, loggers: list[Any]) -> L.Trainer:
    """The Lightning trainer of ``cfg.trainer``. The data module shards train/val batches over
    DDP ranks itself, so Lightning's distributed sampler is off; checkpoints are written
    atomically; ``default_root_dir`` is the run dir (where SLURM's ``hpc_ckpt_*.ckpt`` go)."""
    kwargs = OmegaConf.to_container(cfg.trainer, resolve=True)
    if cfg.callbacks.progress_bar == "none":
        kwargs["enable_progress_bar"] = False
    from egml.run.slurm import slurm_callbacks, slurm_plugins  # preemption: checkpoint + requeue

    plugins: list[Any] = [AtomicCheckpointIO(), *slurm_plugins()]
    return L.Trainer(
        default_root_dir=str(run_dir),
        logger=loggers or False,
        callbacks=[*build_callbacks(cfg, run_dir), *slurm_callbacks()],
        use_distributed_sampler=False,
        plugins=plugins,
        **kwargs,
    )


def quiet_lightning_console() -> None:
    """Lightning adds its own console handler; under Hydra (which owns the root logger and the
    run's log file) that prints every Lightning line twice. Let those records go to the root."""
    if not logging.getLogger().handlers:
        return
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        lg = logging.getLogger(name)
        for handler in list(lg.handlers):
            if type(handler) is logging.StreamHandler:
                lg.removeHandler(handler)
        lg.propagate = True


def train(cfg: DictConfig) -> float | None:
    run_dir = run_dir_of(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    quiet_lightning_console()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    t0 = time.perf_counter()

    cls = task_class(cfg.task.name)
    dm = build_datamodule(cfg, cls)
    dm.setup("fit")
    task = build_task(cfg, normalization_stats(dm))
    loggers = build_loggers(cfg, run_dir)
    trainer = build_trainer(cfg, run_dir, loggers)
    if os.environ.get("EGML_DEBUG_BATCH_IDS"):  # debug/tests: which entries each rank trains on
        dm.record_entry_ids()
    if trainer.is_global_zero:
        write_run_info(cfg, run_dir)

    resume_from = resolve_ckpt_path(cfg.ckpt_path, run_dir)
    check_resumable(resume_from, cfg.task.name)
    trainer.fit(task, datamodule=dm, ckpt_path=resume_from)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    # every rank tests on the whole (unsharded) test split; rank 0's predictions are the output
    test_results = trainer.test(task, datamodule=dm, ckpt_path=best or None, verbose=False)
    if not trainer.is_global_zero:
        return None

    predictions = dict(task.test_predictions)
    baseline = cls.build_baseline(OmegaConf.to_container(cfg.task.baseline, resolve=True))
    if baseline is not None:
        t_base = time.perf_counter()
        baseline.fit(split_columns(dm, "train"))
        baseline.save(run_dir / "baseline")
        predictions.update(baseline.predict(split_columns(dm, "test")))
        log.info("baseline %s fitted in %.1f s", type(baseline).__name__, time.perf_counter() - t_base)

    metrics = {k: float(v) for row in test_results for k, v in row.items()}
    metrics.update(task.evaluate(predictions, run_dir))
    metrics["timing/total_s"] = time.perf_counter() - t0
    write_predictions(run_dir / "predictions.root", predictions)
    write_metrics(run_dir / "metrics.json", metrics)
    for logger in loggers:
        logger.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    log_run_artifacts(loggers, run_dir)
    finish_wandb(loggers)
    objective = cfg.objective or cls.default_objective
    log.info("run dir: %s", run_dir)
    value = metrics.get(objective)
    return float(value) if isinstance(value, (int, float)) else None
