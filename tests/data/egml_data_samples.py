"""Small synthetic ROOT files for the data-layer tests (written with uproot, LZ4)."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import uproot

REAL_ROOT = Path("/work/shared/data/real-root")


def photon_columns(n: int, seed: int, first_event: int = 0) -> dict:
    """SinglePhoton-like columns (PHYSICS.md §7 names): scalars, a [11][7] image, jagged cells."""
    rng = np.random.default_rng(seed)
    ncells = rng.integers(0, 6, n).astype(np.int32)
    total = int(ncells.sum())
    return {
        "evt_eventNo": np.arange(first_event, first_event + n, dtype=np.int64),
        "y_pt": rng.uniform(20, 100, n).astype(np.float32),
        "y_eta": rng.uniform(-2.4, 2.4, n).astype(np.float32),
        "y_deltae": rng.uniform(0, 200, n).astype(np.float32),
        "label": rng.integers(0, 2, n).astype(np.int32),
        "y_img_L2": rng.normal(size=(n, 11, 7)).astype(np.float32),
        "flat": rng.normal(size=(n, 6)).astype(np.float32),
        "cells": ak.zip(
            {
                "e": ak.unflatten(rng.normal(size=total).astype(np.float32), ncells),
                "layer": ak.unflatten(rng.integers(0, 4, total).astype(np.int32), ncells),
            }
        ),
    }


def write_root(path: Path, columns: dict, tree: str = "SinglePhoton") -> Path:
    with uproot.recreate(path, compression=uproot.LZ4(1)) as f:
        f.mktree(tree, columns)  # uproot >= 5.7 writes an RNTuple on f[tree] = columns
    return path


PHOTON_MAP = {
    "event": "evt_eventNo",
    "pt": "y_pt",
    "eta": "y_eta",
    "label": "label",
    "deltae": {"branch": "y_deltae", "scale": 0.001},
    "img_L2": {"branch": "y_img_L2", "shape": [11, 7], "axis_order": ["phi", "eta"]},
    "cell_e": "cells_e",
    "cell_layer": "cells_layer",
}
