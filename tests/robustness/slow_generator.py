"""A tiny generator for the kill-mid-write tests: cheap blocks, ``sleep_s`` after each one,
so a writer can be killed while its temporary file holds part of the sample."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from egml.sim.base import BLOCK_SIZE, GenConfig

SPEC = "robustness.slow_generator:SlowGenerator"  # tests/ is on the path (pytest rootdir, quiet_env)


class SlowGenerator:
    task = "slow"
    task_id = 98
    tree = "tree"
    version = "slow-1"

    def __init__(self, config: GenConfig) -> None:
        self.sleep_s = float(config.knobs.get("sleep_s", 0.0))

    def generate_block(self, rng: np.random.Generator, n: int = BLOCK_SIZE) -> dict[str, Any]:
        time.sleep(self.sleep_s)
        return {"evt_eventNo": rng.integers(0, 2**62, n), "x": rng.normal(size=n).astype(np.float32)}

    def branch_units(self) -> dict[str, str]:
        return {"evt_eventNo": "", "x": ""}

    def metadata(self) -> dict[str, Any]:
        return {"knobs": {"sleep_s": self.sleep_s}}
