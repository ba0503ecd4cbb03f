"""Benchmark scales: sample sizes, epochs, repeats and the time each timed pass aims at.

The CNN and transformer tasks train 10–100× slower per sample than the electron DNN on a CPU,
so ``small`` gives them fewer samples (``per_task``) to keep ``make bench`` to minutes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scale:
    name: str
    n_train: int  # default-data sizes (shared by training, io, physics and the peer)
    n_val: int
    n_test: int
    epochs: int  # physics runs (the real train stage) and the peer
    repeats: int  # timed repeats of every speed figure
    pass_seconds: float  # target wall time of one timed pass (sets the number of batches)
    gen_block: int  # generator section: candidates generated per timed repeat (one RNG block)
    min_bin_entries: int  # energy_regression evaluation: bins with fewer entries are not used
    min_signal: int = 20  # merged_photon evaluation: signal per mass point for its efficiency spread
    batch_size: int | None = None  # training/inference sections' batch (None: the task config's)
    gen_workers: int = 1  # processes generating the default data (the output does not depend on it)
    per_task: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # field overrides per task

    def for_task(self, task: str) -> Scale:
        return dataclasses.replace(self, **dict(self.per_task.get(task, {})), per_task={})


_SLOW = {"n_train": 1500, "n_val": 400, "n_test": 3000, "epochs": 1}
#: tiny default-data sizes (n_train, n_val, n_test) per task: the bench's tiny scale, the plot
#: tests and the notebook tests all use them, so a test session that shares its cache generates
#: each default sample (one full RNG block per split) only once
TINY_SIZES: dict[str, tuple[int, int, int]] = {
    "photon_cnn": (800, 200, 400),
    "electron_dnn": (1200, 300, 600),
    "merged_photon": (500, 200, 600),
    "energy_regression": (600, 200, 400),
}
_TINY = {task: dict(zip(("n_train", "n_val", "n_test"), sizes)) for task, sizes in TINY_SIZES.items()}
SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", 800, 200, 400, 1, 1, 0.2, 64, 10, min_signal=5, per_task=_TINY),
    "small": Scale(
        "small",
        4000,
        1000,
        4000,
        2,
        5,
        2.0,
        4096,  # the generator's own RNG block: smaller blocks would time per-block overheads
        100,
        per_task={
            # 156 batches of 256: a timed pass (≈ 2 s, 133 batches) fits in one epoch
            "electron_dnn": {"n_train": 40000, "n_val": 8000, "n_test": 10000},
            "merged_photon": _SLOW,
            "energy_regression": _SLOW,
        },
    ),
    "full": Scale("full", 60000, 10000, 30000, 5, 5, 8.0, 4096, 500),
    # one GPU: enough rows for many large batches per pass (a GPU step at batch 128 times the
    # launch overheads, not the device); the physics runs keep each task's own batch size
    "gpu": Scale(
        "gpu",
        262144,
        16384,
        65536,
        2,
        5,
        2.0,
        4096,
        500,
        batch_size=8192,
        gen_workers=16,
        per_task={
            "merged_photon": {"n_train": 65536, "n_val": 8192, "n_test": 32768, "batch_size": 2048},
            "energy_regression": {"n_train": 65536, "n_val": 8192, "n_test": 32768, "batch_size": 2048},
        },
    ),
}
