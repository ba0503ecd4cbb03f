"""Writers of a run's outputs: metrics.json and predictions.root (both atomic)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from egml.atomic import atomic_path, atomic_write_json
from egml.run.run_info import provenance

PREDICTIONS_TREE = "predictions"


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; null means "undefined"
    return value


def write_metrics(path: Path, metrics: Mapping[str, Any]) -> None:
    atomic_write_json(path, {"provenance": provenance(), **_clean(dict(metrics))})


def write_predictions(path: Path, columns: Mapping[str, np.ndarray], tree: str = PREDICTIONS_TREE) -> None:
    """One entry per candidate; 2-D arrays become fixed-size array branches."""
    import uproot

    n = {len(v) for v in columns.values()}
    if len(n) > 1:
        lengths = {k: len(v) for k, v in columns.items()}
        raise ValueError(f"predictions have columns of different lengths: {lengths}")
    data = {k: np.ascontiguousarray(v) for k, v in columns.items()}
    with atomic_path(path) as tmp, uproot.recreate(tmp, compression=uproot.LZ4(1)) as f:
        # mktree: a plain assignment writes an RNTuple in recent uproot; analyses expect a TTree
        f.mktree(tree, {k: (v.dtype, v.shape[1:]) if v.ndim > 1 else v.dtype for k, v in data.items()})
        f[tree].extend(data)
