"""egml.data: the shared ROOT data layer (schemas and files, never models).

Public API::

    from egml.data import load, EgmlDataModule, DataError

    cols = load("ntuples/*.root", "SinglePhoton", {"pt": "y_pt", "deltae": {"branch": "y_deltae", "scale": 1e-3}},
                selection="abs(y_eta) < 2.37")
    cands = load(files, "Events", {"pt": "Electron_pt", "met": "MET_pt"}, objects="Electron")

- :func:`load` (files, tree, branch_map, selection=None, objects=None, entry_range=None, fields=None,
  nonfinite="fail") → ``dict[str, np.ndarray | ak.Array]``; :func:`load_table` adds row provenance.
- :class:`EgmlDataModule`: train/val/test dataloaders of ``dict[str, Tensor]`` batches, deterministic
  hash split, cache, streaming, normalisation and reweighting (see datamodule.py).
- :class:`DataError` (a ValueError): the one-line error for bad input data.
- Building blocks: :func:`parse_branch_map`, :func:`parse_expression`, :func:`assign_split`,
  :func:`load_cached`, :class:`BatchedDataset`, :class:`StreamingDataset`, :class:`Normalization`,
  :class:`Reweighter`.
Imports are lazy so that ``import egml.data`` does not pull in torch or Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataError": "egml.data.errors",
    "FieldSpec": "egml.data.branch_map",
    "parse_branch_map": "egml.data.branch_map",
    "parse_expression": "egml.data.expression",
    "load": "egml.data.reader",
    "load_table": "egml.data.reader",
    "Table": "egml.data.reader",
    "resolve_files": "egml.data.files",
    "assign_split": "egml.data.split",
    "event_keys": "egml.data.split",
    "file_entry_keys": "egml.data.split",
    "load_cached": "egml.data.cache",
    "StoredTable": "egml.data.cache",
    "Jagged": "egml.data.store",
    "BatchIndexSampler": "egml.data.batching",
    "gather_batch": "egml.data.batching",
    "BatchedDataset": "egml.data.datasets",
    "StreamingDataset": "egml.data.datasets",
    "StreamConfig": "egml.data.datasets",
    "Normalization": "egml.data.normalization",
    "fit_normalization": "egml.data.normalization",
    "Reweighter": "egml.data.reweighting",
    "EgmlDataModule": "egml.data.datamodule",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'egml.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
