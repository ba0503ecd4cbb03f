"""Generation speed per core: CPU time of whole RNG blocks (no ROOT writing).

``OMP_NUM_THREADS=1 python -m egml.sim.speed [task ...] [--blocks 3]`` prints, per task, the
candidates per second per core of the fastest of ``--blocks`` 4096-candidate blocks (CPU time,
``time.process_time``, one torch thread), after one warm-up block. The fastest block is reported
because on a shared machine the CPU time of a block still grows with the other load.
"""

from __future__ import annotations

import argparse
import time

import torch

from egml.sim.base import BLOCK_SIZE, GenConfig
from egml.sim.registry import generator_class
from egml.sim.rng import block_rng

TASKS = ("photon_cnn", "electron_dnn", "merged_photon", "energy_regression")


def candidates_per_second(task: str, blocks: int = 3, seed: int = 12345) -> float:
    """Generated candidates (before the E_T window) per CPU second for ``task``, best of ``blocks``."""
    if blocks < 1:
        raise ValueError(f"speed: --blocks must be ≥ 1, got {blocks}")
    gen = generator_class(task)(GenConfig())
    gen.generate_block(block_rng(seed, gen.task_id, blocks))  # warm-up (imports, caches)
    best = float("inf")
    for b in range(blocks):
        t0 = time.process_time()
        gen.generate_block(block_rng(seed, gen.task_id, b))
        best = min(best, time.process_time() - t0)
    return BLOCK_SIZE / max(best, 1e-9)  # process_time has a finite resolution


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m egml.sim.speed", description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=list(TASKS), help=f"tasks (default: {' '.join(TASKS)})")
    parser.add_argument("--blocks", type=int, default=3, help="timed blocks per task (the fastest counts)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for task in args.tasks:
        print(f"{task:18s} {candidates_per_second(task, args.blocks):9,.0f} candidates/s/core", flush=True)


if __name__ == "__main__":
    main()
