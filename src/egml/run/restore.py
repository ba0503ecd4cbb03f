"""Rebuild a trained task from its run: weights, input normalisation, baseline, working points.

Checkpoints are read with ``torch.load(weights_only=True)`` (no pickled code runs). What the
task needs before ``load_state_dict`` (the normalisation statistics, which fix the buffers'
names and shapes) is stored in plain types by ``EgmlTask.on_save_checkpoint``; the data
module's state (normalisation, reweighting tables) is Lightning's entry named after its class.
"""

from __future__ import annotations

import inspect
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import egml
from egml.errors import EgmlError
from egml.tasks.base import CHECKPOINT_KEY

log = logging.getLogger("egml")

DATAMODULE_KEY = "EgmlDataModule"


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for bad files
        first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[:1] or [""]
        raise EgmlError(
            f"config key 'ckpt_path': '{path}' is not a checkpoint readable with weights_only=True "
            f"({type(exc).__name__}: {first[0][:120]}); egml never unpickles code: pass a checkpoint written by egml"
        ) from None
    if "state_dict" not in ckpt:
        raise EgmlError(
            f"config key 'ckpt_path': '{path}' has no 'state_dict'; expected a Lightning checkpoint"
        )
    return ckpt


def normalization_of(ckpt: dict[str, Any]) -> dict[str, Any] | None:
    """Normalisation statistics the task was built with (egml entry, else the data module's state)."""
    if CHECKPOINT_KEY in ckpt:
        return ckpt[CHECKPOINT_KEY]["normalization"] or None
    state = ckpt.get(DATAMODULE_KEY) or {}
    return state.get("normalization")


def restore_task(cfg: DictConfig, ckpt: dict[str, Any]) -> Any:
    """The task of ``cfg`` with the checkpoint's weights (strict), in eval mode."""
    from egml.tasks.registry import task_class

    entry = ckpt.get(CHECKPOINT_KEY) or {}
    trained_version = str(entry.get("egml_version") or "")
    if trained_version and trained_version.split(".")[:2] != egml.__version__.split(".")[:2]:
        raise EgmlError(
            f"config key 'ckpt_path': the checkpoint was written by egml {trained_version}, this is "
            f"egml {egml.__version__}: expected the same major.minor version; retrain, or use egml=={trained_version}"
        )
    trained_task = entry.get("task")
    if trained_task is not None and trained_task != cfg.task.name:
        raise EgmlError(
            f"config key 'ckpt_path': the checkpoint was trained for task '{trained_task}', "
            f"not '{cfg.task.name}'; pass task={trained_task} (and that task's model)"
        )
    cls = task_class(cfg.task.name)
    kwargs = OmegaConf.to_container(cfg.task.module, resolve=True)
    task = cls(model=instantiate(cfg.model), normalization=normalization_of(ckpt), **kwargs)
    try:
        task.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        raise EgmlError(
            f"checkpoint weights do not fit the model of config task '{cfg.task.name}' "
            f"({str(exc).splitlines()[0]}); pass the training run's model config"
        ) from None
    return task.eval()


def restore_baseline(task_cls: Any, cfg: DictConfig, run_dir: Path | None) -> Any | None:
    """The baseline saved at training in ``<run_dir>/baseline/`` (None when there is none).

    Contract: the baseline class has ``load(directory)``. A ``load`` that takes a file (one
    file in the directory) and the baseline config as keyword arguments is also accepted.
    """
    directory = None if run_dir is None else run_dir / "baseline"
    if directory is None or not directory.is_dir():
        return None
    cfg_baseline = OmegaConf.to_container(cfg.task.baseline, resolve=True) if cfg.task.get("baseline") else {}
    template = task_cls.build_baseline(dict(cfg_baseline or {}))
    if template is None:
        return None
    load = type(template).load
    kwargs = {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(load).parameters.values()):
        kwargs = {k: v for k, v in (cfg_baseline or {}).items() if k != "enabled"}
    files = [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")]
    try:
        return load(directory, **kwargs)
    except Exception as first:  # e.g. a loader that expects the model file, not its directory
        if len(files) != 1:
            raise EgmlError(
                f"baseline in {directory} could not be loaded ({type(first).__name__}: {first})"
            ) from None
        return load(files[0], **kwargs)


def restore_working_points(run_dir: Path | None) -> dict[str, Any]:
    """Working-point maps fitted at training (``<run_dir>/working_points.json``), or {}."""
    from egml.evaluation.working_points import load_working_points

    if run_dir is None or not (run_dir / "working_points.json").is_file():
        return {}
    return load_working_points(run_dir / "working_points.json")


@dataclass
class TrainedRun:
    """A training run reopened by the eval/predict/export stages."""

    cfg: DictConfig  # the training run's config with this command's overrides merged in
    out_dir: Path  # this stage's own run dir
    train_dir: Path | None  # the training run dir (baseline, working points)
    ckpt_file: Path
    ckpt: dict[str, Any]
    task: Any


def open_trained_run(cfg: DictConfig) -> TrainedRun:
    """Locate the checkpoint, merge its run's config, record this run, rebuild the task."""
    from egml.run.eval_config import locate_checkpoint, merged_config
    from egml.run.run_info import write_run_info

    ckpt_file, train_dir = locate_checkpoint(cfg.ckpt_path, cfg.stage)
    cfg = merged_config(cfg, train_dir)
    out_dir = Path(cfg.paths.output_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_run_info(cfg, out_dir)
    ckpt = load_checkpoint(ckpt_file)
    return TrainedRun(cfg, out_dir, train_dir, Path(ckpt_file), ckpt, restore_task(cfg, ckpt))


def check_resumable(path: str | None, task_name: str) -> None:
    """Before Lightning resumes from ``path``: it must load with ``weights_only=True`` (a corrupt or
    pickle-bearing file is one clear error, not a traceback) and belong to this task."""
    if path is None:
        return
    entry = load_checkpoint(Path(path)).get(CHECKPOINT_KEY) or {}
    trained = entry.get("task")
    if trained is not None and trained != task_name:
        raise EgmlError(
            f"config key 'ckpt_path': '{path}' was trained for task '{trained}', not '{task_name}'; "
            f"resume it with task={trained}, or start a new run dir"
        )
