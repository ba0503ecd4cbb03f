"""A toy TaskGenerator for the driver/writer/cache tests (no physics).

It honours the contract of egml.sim.base: fixed-shape draws per block, a random
acceptance (so blocks return different numbers of entries), a detector map from
``detector_rng``, a shift, knobs, fixed-shape images and jagged per-candidate cells.
Knobs: ``accept`` (acceptance), ``fail_after`` (raise after that many blocks),
``sleep_s`` (slow start, for the lock test). If ``$EGML_TOY_LOG`` is set, every
construction appends a line to that file (to count generations).
"""

from __future__ import annotations

import os
import time
from typing import Any

import awkward as ak
import numpy as np

from egml.sim.base import BLOCK_SIZE, GenConfig
from egml.sim.rng import detector_rng

MAX_CELLS = 5


class ToyGenerator:
    task = "toy"
    task_id = 99
    tree = "toy/Tree"
    version = "toy-1"

    def __init__(self, config: GenConfig) -> None:
        self.config = config
        self.accept = float(config.knobs.get("accept", 0.7))
        self.fail_after = int(config.knobs.get("fail_after", -1))
        self.calls = 0
        self.offset = detector_rng(config.detector_seed).normal(size=(3, 4)).astype(np.float32)
        if os.environ.get("EGML_TOY_LOG"):
            with open(os.environ["EGML_TOY_LOG"], "a") as log:
                log.write(f"{os.getpid()}\n")
        time.sleep(float(config.knobs.get("sleep_s", 0.0)))

    def generate_block(self, rng: np.random.Generator, n: int = BLOCK_SIZE) -> dict[str, Any]:
        self.calls += 1
        if self.fail_after >= 0 and self.calls > self.fail_after:
            raise RuntimeError("toy generator failure")
        u = rng.random(n)
        evt = rng.integers(0, 2**62, n)
        pt = rng.exponential(30.0, n).astype(np.float32)
        img = (rng.normal(size=(n, 3, 4)) * 0.1 * self.config.shift.noise).astype(np.float32) + self.offset
        ncell = rng.integers(0, MAX_CELLS + 1, n)
        cell_e = rng.exponential(1.0, (n, MAX_CELLS)).astype(np.float32)
        cell_eta = rng.uniform(-2.5, 2.5, (n, MAX_CELLS)).astype(np.float32)
        keep = u < self.accept
        counts = ncell[keep]
        present = np.arange(MAX_CELLS) < counts[:, None]
        cells = ak.zip(
            {
                "e": ak.unflatten(cell_e[keep][present], counts),
                "eta": ak.unflatten(cell_eta[keep][present], counts),
                "layer": ak.unflatten(np.nonzero(present)[1].astype(np.int32), counts),
            }
        )
        return {
            "evt_eventNo": evt[keep],
            "y_pt": pt[keep],
            "y_isTight": (pt[keep] > 30.0).astype(np.int32),
            "y_img": img[keep],
            "cells": cells,
        }

    def branch_units(self) -> dict[str, str]:
        return {
            "evt_eventNo": "",
            "y_pt": "GeV",
            "y_isTight": "",
            "y_img": "GeV",
            "cells_e": "GeV",
            "cells_eta": "",
            "cells_layer": "",
        }

    def metadata(self) -> dict[str, Any]:
        return {"knobs": {"accept": self.accept}, "axis_order": {"y_img": ["phi", "eta"]}}


def reference_columns(seed: int, n: int, config: GenConfig | None = None) -> dict[str, Any]:
    """The first ``n`` accepted toy candidates, built block by block straight from the
    §0 rule 5 formula (independent of the driver's chunking and pool)."""
    config = config or GenConfig(master_seed=seed)
    gen = ToyGenerator(config)
    parts, total, b = [], 0, 0
    while total < n:
        seq = np.random.SeedSequence(entropy=seed, spawn_key=(ToyGenerator.task_id, b))
        parts.append(gen.generate_block(np.random.Generator(np.random.PCG64(seq)), BLOCK_SIZE))
        total += len(parts[-1]["y_pt"])
        b += 1
    out = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        joined = ak.concatenate(values) if isinstance(values[0], ak.Array) else np.concatenate(values)
        out[key] = joined[:n]
    return out
