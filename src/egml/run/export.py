"""The export stage: ``python -m egml task=T stage=export ckpt_path=<run>/checkpoints/best.ckpt``.

Writes ``<this run>/model.onnx`` (``egml.export.onnx``) and ``export.json`` (the parity check:
ONNX Runtime against PyTorch on real inputs, on a full batch and on a small one whose jagged
fields have another length). ``data.files`` gives the real inputs; without it the training
run's test files (or its synthetic test sample) are used. A failed parity check keeps the file
as ``model.onnx.parity_failed`` and raises.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import egml
from egml.atomic import atomic_path, atomic_write_json
from egml.errors import EgmlError
from egml.export.onnx import OPSET, PARITY_TOLERANCE, export_onnx, parity
from egml.run.eval_data import build_eval_datamodule
from egml.run.restore import DATAMODULE_KEY, open_trained_run, restore_working_points
from egml.run.run_info import git_commit

log = logging.getLogger("egml")

UNITS = "egml internal units after the branch map's scale: energy GeV, length mm, time ns, angles rad (PHYSICS.md)"
PARITY_BATCH = 256
SMALL_BATCH = 5


def export_files(cfg: DictConfig) -> list[str]:
    d = cfg.data
    for files in (d.files, d.test_files):
        if files is not None:
            return [str(files)] if isinstance(files, str) else [str(f) for f in files]
    from egml.run.data_source import synthetic_files

    return synthetic_files(cfg)["test"]


def output_description(task: Any) -> dict[str, Any]:
    names = list(getattr(task.model, "output_names", getattr(task, "output_names", ())))
    return {
        "columns": names,
        "meaning": f"raw outputs of {type(task.model).__name__}, before {type(task).__name__}.scores",
    }


def export_metadata(cfg: DictConfig, task: Any, run_dir: Path | None) -> dict[str, Any]:
    branch_map = OmegaConf.to_container(cfg.data.branch_map, resolve=True)
    maps = restore_working_points(run_dir)
    return {
        "egml_version": egml.__version__,
        "git_commit": git_commit() or "unknown",
        "task": cfg.task.name,
        "config": OmegaConf.to_yaml(cfg, resolve=True),
        "units": UNITS,
        "input_branches": {f: branch_map[f] for f in cfg.data.inputs if f in branch_map},
        "normalization": {"in_graph": True, "fields": task.normalizer.fields},
        "outputs": output_description(task),
        "working_points": {k: wp.to_dict() for k, wp in maps.items()},
        "opset": str(OPSET),
    }


def export_stage(cfg: DictConfig) -> dict[str, Any]:
    run = open_trained_run(cfg)
    cfg = run.cfg
    dm = build_eval_datamodule(cfg, type(run.task), export_files(cfg), False, run.ckpt.get(DATAMODULE_KEY))
    batch = next(iter(dm.predict_dataloader()))
    model_bytes, names = export_onnx(
        run.task, batch, list(cfg.data.inputs), export_metadata(cfg, run.task, run.train_dir)
    )
    checks = [parity(model_bytes, run.task, batch, names, n) for n in (PARITY_BATCH, SMALL_BATCH)]
    report = {
        "ckpt_path": str(run.ckpt_file),
        "input_names": names,
        "tolerance": PARITY_TOLERANCE,
        "parity": [vars(c) for c in checks],
        "parity_ok": all(c.ok for c in checks),
    }
    path = run.out_dir / "model.onnx"
    if not report["parity_ok"]:
        path = run.out_dir / "model.onnx.parity_failed"
    with atomic_path(path) as tmp:
        tmp.write_bytes(model_bytes)
    atomic_write_json(run.out_dir / "export.json", report)
    if not report["parity_ok"]:
        worst = max(c.max_scaled_diff for c in checks)
        raise EgmlError(
            f"ONNX parity check failed: max |Δ| = {worst:.3g} > {PARITY_TOLERANCE} (see {run.out_dir / 'export.json'})"
        )
    log.info("exported %s (max |Δ| %.2g over %s entries)", path, max(c.max_abs_diff for c in checks),
             "+".join(str(c.n_entries) for c in checks))  # fmt: skip
    return report
