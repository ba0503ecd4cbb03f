"""Experiment loggers: CSV always, W&B offline by default, one run per job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def build_loggers(cfg: DictConfig, run_dir: Path) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger

    loggers: list[Any] = []
    if cfg.logger.csv:
        loggers.append(CSVLogger(save_dir=str(run_dir), name="csv", version=""))
    wb = cfg.logger.wandb
    mode = os.environ.get("WANDB_MODE", wb.mode)
    if wb.enabled and mode != "disabled":
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_CONSOLE", "off")
        logger = WandbLogger(
            save_dir=str(run_dir),
            project=wb.project,
            entity=wb.entity,
            group=wb.group or _sweep_group(),
            tags=list(wb.tags),
            offline=mode == "offline",
            mode=mode,
            name=f"{cfg.task.name}-{run_dir.name}",
        )
        loggers.append(logger)
    hparams = OmegaConf.to_container(cfg, resolve=True)  # the resolved config, in every logger
    for logger in loggers:
        logger.log_hyperparams(hparams)
    return loggers


def _sweep_group() -> str | None:
    """Jobs of one Hydra multirun share a W&B group named after the sweep dir."""
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
        if hc.mode is not None and hc.mode.name == "MULTIRUN":
            return Path(hc.sweep.dir).name
    except (ValueError, ImportError):
        pass
    return None


def finish_wandb(loggers: list[Any]) -> None:
    """Close W&B runs cleanly (a multirun otherwise mixes jobs into one run)."""
    for logger in loggers:
        if type(logger).__name__ == "WandbLogger":
            import wandb

            if wandb.run is not None:
                wandb.finish()


# --- W&B images, tables and ROC curves of a finished run ---------------------------------------
def wandb_loggers(loggers: list[Any]) -> list[Any]:
    return [lg for lg in loggers if type(lg).__name__ == "WandbLogger"]


def _read_json(path: Path) -> Any:
    import json

    return json.loads(path.read_text())


def working_point_rows(document: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """One row per (working point, bin) of a working_points.json: its bin ranges and threshold."""
    import numpy as np

    columns = ["working_point", "score", "target_kind", "target", "bin", "threshold", "n_fit", "fallback"]
    rows = []
    for key, wp in document.get("working_points", {}).items():
        edges = [(b["variable"], b["edges"]) for b in wp["bins"]]
        thresholds = np.asarray(wp["thresholds"], dtype=object).ravel()
        n_fit = np.asarray(wp.get("n_fit") or [None] * len(thresholds), dtype=object).ravel()
        fallback = np.asarray(wp.get("fallback") or [None] * len(thresholds), dtype=object).ravel()
        shape = tuple(len(e) - 1 for _, e in edges) or (1,)
        for flat, index in enumerate(np.ndindex(*shape)):  # loop over the bins of one map
            where = " ".join(f"{v}∈[{e[i]:g},{e[i + 1]:g})" for (v, e), i in zip(edges, index)) or "inclusive"
            rows.append([key, wp["score"], wp["target_kind"], wp["target"], where,
                         thresholds[flat] if flat < len(thresholds) else None,
                         n_fit[flat] if flat < len(n_fit) else None,
                         fallback[flat] if flat < len(fallback) else None])  # fmt: skip
    return columns, rows


def _table(columns: dict[str, list[Any]]) -> Any:
    import wandb

    names = list(columns)
    return wandb.Table(columns=names, data=[list(r) for r in zip(*(columns[n] for n in names))])


def run_artifacts(run_dir: Path) -> dict[str, Any]:
    """W&B objects of a run dir: ``plots/<name>`` images, ``tables/<name>`` tables, ``roc/<name>`` lines.

    Read from the files the evaluation wrote: ``plots/*.png``, ``plots/data/*.json``,
    ``working_points.json`` and ``resolution_bins.json`` (docs/wandb.md lists the panels).
    """
    import wandb

    out: dict[str, Any] = {}
    plots = run_dir / "plots"
    for png in sorted(plots.glob("*.png")):
        out[f"plots/{png.stem}"] = wandb.Image(str(png))
    for path in sorted((plots / "data").glob("*.json")):
        doc = _read_json(path)
        columns = doc["columns"]
        if "curves" in doc:  # a ROC: one line per curve, rejection vs signal efficiency
            labels = doc["curves"]
            eff_b = columns["background_efficiency"]
            columns = {
                "curve": [labels[int(i)] for i in columns["curve"]],
                "signal_efficiency": columns["signal_efficiency"],
                "background_efficiency": eff_b,
                "rejection": [1.0 / b if b else None for b in eff_b],
            }
            table = _table(columns)
            out[f"roc/{path.stem}"] = wandb.plot.line(
                table, "signal_efficiency", "rejection", stroke="curve", title=path.stem
            )
        out[f"tables/{path.stem}"] = _table(columns)
    if (run_dir / "working_points.json").is_file():
        names, rows = working_point_rows(_read_json(run_dir / "working_points.json"))
        out["tables/working_points"] = wandb.Table(columns=names, data=rows)
    if (run_dir / "resolution_bins.json").is_file():
        bins = _read_json(run_dir / "resolution_bins.json")["bins"]
        keys = list(dict.fromkeys(k for row in bins for k in row))
        out["tables/resolution_bins"] = _table({k: [row.get(k) for row in bins] for k in keys})
    return out


def log_run_artifacts(loggers: list[Any], run_dir: Path) -> int:
    """Log a finished run's plots (images), working-point and per-bin tables and ROC curves to
    every W&B logger; returns the number of objects logged (0 without W&B)."""
    targets = wandb_loggers(loggers)
    if not targets:
        return 0
    payload = run_artifacts(Path(run_dir))
    for logger in targets:
        if payload:
            logger.experiment.log(payload)
    return len(payload)
