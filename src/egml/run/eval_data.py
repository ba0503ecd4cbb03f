"""Data for the eval/predict/export stages: every entry of the given files is "test".

The training data module splits files into train/val/test and fits normalisation and
reweighting on the training split; here nothing is fitted: the reweighting tables come from
the checkpoint (the data module's state) and the input normalisation travels in the task's
weights. Fields whose branches are absent from the files (truth, labels, extra passthrough
variables in an analysis ntuple) are dropped, except the network inputs and, for eval, the label.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from egml.data.datamodule import EgmlDataModule
from egml.data.datasets import BatchedDataset, StreamingDataset
from egml.data.expression import parse_expression
from egml.data.files import open_tree, resolve_files
from egml.errors import EgmlError
from egml.run.data_source import check_inputs_are_not_truth

log = logging.getLogger("egml")


class AllEntriesDataModule(EgmlDataModule):
    """An :class:`EgmlDataModule` whose ``files`` are all test entries (no split, nothing fitted)."""

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        paths = resolve_files(self.files)
        if self.mode == "memory":
            table = self._load(paths, ())
            weights = self._weights(table.columns)
            self.datasets["test"] = BatchedDataset(
                table, np.arange(len(table)), {"weight": weights}, self.pad, self._batch_fields()
            )
        else:
            config = self._stream_config(paths, None, ())
            self.datasets["test"] = StreamingDataset(
                config, self.eval_batch_size, shuffle=False, seed=self.seed, hook=self._hook
            )


def branch_names(entry: Any) -> set[str]:
    """Branches a branch-map entry reads (a branch, or the names an expression reads)."""
    if isinstance(entry, str):
        return {entry}
    if entry.get("branch") is not None:
        return {str(entry["branch"])}
    return set(parse_expression(str(entry["expr"])).names) if entry.get("expr") else set()


def eval_fields(cfg: DictConfig, task_cls: Any, files: list[str], labelled: bool) -> list[str]:
    """Fields to load: inputs, label (eval), required and passthrough fields present in the files."""
    d = cfg.data
    branch_map = OmegaConf.to_container(d.branch_map, resolve=True)
    inputs = list(d.inputs)
    check_inputs_are_not_truth(branch_map, inputs)
    keys = set(open_tree(resolve_files(files)[0], d.tree).keys())
    wanted = [*inputs, d.label, *getattr(task_cls, "required_fields", ()), *task_cls.passthrough_fields]
    fields = []
    for field in dict.fromkeys(wanted):
        if field not in branch_map:
            continue
        missing = sorted(branch_names(branch_map[field]) - keys)
        must = field in inputs or (labelled and field == d.label)
        if missing and must:
            hint = " (use stage=predict for unlabelled files)" if field == d.label else ""
            raise EgmlError(
                f"config key 'data.files': field '{field}' needs branch '{missing[0]}', which is not in tree "
                f"'{d.tree}' of {files[0]}{hint}"
            )
        if missing:
            log.info("field %s skipped: branch %s not in the files", field, missing[0])
            continue
        if field == d.label and not labelled:
            continue
        fields.append(field)
    return fields


def build_eval_datamodule(
    cfg: DictConfig, task_cls: Any, files: list[str], labelled: bool, datamodule_state: dict | None
) -> AllEntriesDataModule:
    d = cfg.data
    fields = eval_fields(cfg, task_cls, files, labelled)
    state = dict(datamodule_state or {})
    if not labelled or d.label not in fields:
        state["reweighting"] = None  # the reweighting weights are functions of the label
    dm = AllEntriesDataModule(
        files=files,
        tree=d.tree,
        branch_map=OmegaConf.to_container(d.branch_map, resolve=True),
        fields=fields,
        selection=d.selection,
        objects=d.objects,
        batch_size=d.eval_batch_size or d.batch_size,
        eval_batch_size=d.eval_batch_size,
        mode=d.mode,
        cache_dir=None,  # analysis files are read once: no column cache
        num_workers=d.num_workers,
        nonfinite=d.nonfinite,
        seed=cfg.seed,
    )
    rw_cfg = _reweight_cfg(cfg)
    if state.get("reweighting") is not None and rw_cfg is not None:
        if all(rw_cfg[k] in fields for k in ("pt", "label", "eta") if k in rw_cfg):
            dm.reweight_cfg = rw_cfg  # the training tables, applied as at training
        else:
            state["reweighting"] = None
    dm.load_state_dict(state)
    return dm


def _reweight_cfg(cfg: DictConfig) -> dict[str, Any] | None:
    """The fields the training reweighting reads (its tables come from the checkpoint)."""
    rw = cfg.data.reweight
    if rw is None:
        return None
    out: dict[str, Any] = {"pt": rw.variables[0], "label": cfg.data.label}
    if len(rw.variables) > 1:
        out["eta"] = rw.variables[1]
    return out
