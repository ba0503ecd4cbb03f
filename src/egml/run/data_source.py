"""From the `data:` config group to a data module: real ntuples, or the synthetic default.

When no files are given, the task's embedded default is used: train, validation and test
samples made by ``egml.sim`` once into the cache dir (then reused), the test sample
optionally with a shifted detector (§0 rule 6 of the physics spec).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from egml.errors import EgmlError

log = logging.getLogger("egml")

DATA_KEYS = {
    "tree",
    "files",
    "train_files",
    "val_files",
    "test_files",
    "selection",
    "objects",
    "event_id",
    "split",
    "branch_map",
    "inputs",
    "normalize",
    "normalize_method",
    "normalize_clip",
    "resident",
    "label",
    "reweight",
    "batch_size",
    "eval_batch_size",
    "num_workers",
    "mode",
    "cache",
    "nonfinite",
    "synthetic",
}
SYNTHETIC_KEYS = {"n_train", "n_val", "n_test", "seed", "test_shift", "knobs", "workers"}
#: truth information and generator latents (PHYSICS.md §7): never network inputs. Markers:
#: gen_/truth prefixes, MC-truth classifications and labels, the sample id, the physics weight
#: (a function of truth pT) and the T3 truth branches of the pseudoscalar A.
TRUTH_PATTERN = re.compile(
    r"(^gen|_gen_|truth|Truth|isTruthMatched|class6|^label$|^mcid$|weight_phys|FirstEgMother|firstEgMother"
    r"|^A_(mass|pT|eta|phi|DR)$|^mHgen$)"
)


def branches_of(entry: Any) -> list[str]:
    """Branch names a branch-map entry reads (a plain name, a branch, or the names in an expression)."""
    if isinstance(entry, str):
        return [entry]
    if "branch" in entry and entry["branch"] is not None:
        return [str(entry["branch"])]
    return re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(entry.get("expr", "")))


def check_inputs_are_not_truth(branch_map: Mapping[str, Any], inputs: list[str]) -> None:
    """Truth fields and generator latents can never be network inputs (PHYSICS.md §0 rule 1)."""
    for field in inputs:
        if field not in branch_map:
            raise EgmlError(
                f"config key 'data.inputs' names field '{field}', which is not in data.branch_map"
            )
        for branch in branches_of(branch_map[field]):
            if TRUTH_PATTERN.search(branch):
                raise EgmlError(
                    f"config key 'data.inputs': field '{field}' reads branch '{branch}', a truth/generator-latent "
                    "branch; such branches can never be network inputs"
                )


#: label values of the classification tasks (a task class may declare ``label_classes`` instead)
TASK_LABEL_CLASSES: dict[str, tuple[int, ...]] = {"electron_dnn": (0, 1, 2, 3, 4, 5), "photon_cnn": (0, 1)}


def with_label_classes(
    branch_map: dict[str, Any], label: str, classes: tuple[int, ...] | None
) -> dict[str, Any]:
    """The branch map with the label field checked against the task's classes, each required."""
    if not classes or label not in branch_map:
        return branch_map
    entry = branch_map[label]
    entry = {"branch": entry} if isinstance(entry, str) else dict(entry)
    entry.setdefault("classes", list(classes))
    entry.setdefault("require_classes", True)
    return {**branch_map, label: entry}


def with_scalar_features(branch_map: dict[str, Any], cfg: DictConfig) -> dict[str, Any]:
    """Inputs of a flat feature-vector model (``model.feature_names``) must be one value per entry."""
    names = cfg.model.get("feature_names")
    if names is None:
        return branch_map
    out = dict(branch_map)
    for name in names:
        entry = out.get(name)
        if entry is None:
            continue
        entry = {"branch": entry} if isinstance(entry, str) else dict(entry)
        if entry.get("shape") is None and entry.get("reshape") is None:
            entry["shape"] = []  # a scalar: a jagged or array-valued branch fails with a clear line
        out[name] = entry
    return out


def synthetic_files(cfg: DictConfig) -> dict[str, list[str]]:
    """Generate (once) and return the default train/val/test files of the task."""
    from egml.sim.default_data import ensure_dataset

    syn = cfg.data.synthetic
    unknown = set(syn.keys()) - SYNTHETIC_KEYS
    if unknown:
        raise EgmlError(
            f"unknown config key 'data.synthetic.{sorted(unknown)[0]}' (expected {sorted(SYNTHETIC_KEYS)})"
        )
    knobs = OmegaConf.to_container(syn.knobs, resolve=True) if syn.get("knobs") is not None else {}
    cache_dir = Path(cfg.paths.cache_dir) / "data"
    out: dict[str, list[str]] = {}
    for split, n in (("train", syn.n_train), ("val", syn.n_val), ("test", syn.n_test)):
        shift = syn.test_shift if split == "test" else None
        path = ensure_dataset(
            cfg.task.name,
            split,
            int(n),
            seed=int(syn.seed),
            shift=shift,
            cache_dir=cache_dir,
            knobs=knobs,
            workers=int(syn.get("workers") or 1),
        )
        out[split] = [str(path)]
    return out


def build_datamodule(cfg: DictConfig, task_cls: Any) -> Any:
    from egml.data.datamodule import EgmlDataModule

    d = cfg.data
    branch_map = OmegaConf.to_container(d.branch_map, resolve=True)
    inputs = list(d.inputs)
    check_inputs_are_not_truth(branch_map, inputs)
    wanted = [*inputs, d.label, *getattr(task_cls, "required_fields", ()), *task_cls.passthrough_fields]
    fields = [f for f in dict.fromkeys(wanted) if f in branch_map]
    classes = getattr(task_cls, "label_classes", None) or TASK_LABEL_CLASSES.get(cfg.task.name)
    branch_map = with_label_classes(branch_map, d.label, classes)
    branch_map = with_scalar_features(branch_map, cfg)
    for f in getattr(task_cls, "required_fields", ()):
        if f not in branch_map:
            raise EgmlError(
                f"config key 'data.branch_map' lacks field '{f}', which task '{cfg.task.name}' needs"
            )

    files = {
        "files": d.files,
        "train_files": d.train_files,
        "val_files": d.val_files,
        "test_files": d.test_files,
    }
    files = {
        k: (OmegaConf.to_container(v) if v is not None and not isinstance(v, str) else v)
        for k, v in files.items()
    }
    if all(v is None for v in files.values()):
        files.update({f"{k}_files": v for k, v in synthetic_files(cfg).items()})
    split_key = (
        OmegaConf.to_container(d.event_id)
        if d.event_id is not None and not isinstance(d.event_id, str)
        else d.event_id
    )
    reweighting = None
    if d.reweight is not None:
        rw = d.reweight
        reweighting = {
            "pt": rw.variables[0],
            "label": d.label,
            "target": rw.target,
            "pt_bins": list(rw.edges[rw.variables[0]]),
        }
        if len(rw.variables) > 1:
            reweighting["eta"] = rw.variables[1]
            reweighting["eta_bins"] = list(rw.edges[rw.variables[1]])
        else:
            reweighting["eta_bins"] = None
        if rw.get("signal_labels") is not None:
            reweighting["signal_labels"] = list(rw.signal_labels)
        if rw.get("class_weights") is not None:
            reweighting["class_weights"] = bool(rw.class_weights)
    return EgmlDataModule(
        tree=d.tree,
        branch_map=branch_map,
        fields=fields,
        selection=d.selection,
        objects=d.objects,
        split_fractions=list(d.split),
        split_key=split_key,
        batch_size=d.batch_size,
        eval_batch_size=d.eval_batch_size,
        mode=d.mode,
        cache_dir=str(Path(cfg.paths.cache_dir) / "columns") if d.cache else None,
        num_workers=d.num_workers,
        normalization=list(d.normalize),
        normalization_method=str(d.get("normalize_method") or "standard"),
        normalization_clip=d.get("normalize_clip"),
        resident=str(d.get("resident") or "auto"),
        reweighting=reweighting,
        nonfinite=d.nonfinite,
        seed=cfg.seed,
        **files,
    )


def normalization_stats(dm: Any) -> dict[str, dict[str, float]] | None:
    return None if dm.normalization is None else dm.normalization.to_dict()


def split_columns(dm: Any, split: str) -> dict[str, np.ndarray]:
    """Fixed-shape columns of one split, in the order the (unshuffled) dataloader yields them."""
    ds = dm.datasets[split]
    if not hasattr(ds, "rows"):  # streaming: read the split once
        return ds.fixed_columns()
    rows = np.sort(ds.rows)
    out = {}
    for name, col in ds.table.columns.items():
        if isinstance(col, np.ndarray):
            out[name] = np.asarray(col[rows])
    return out
