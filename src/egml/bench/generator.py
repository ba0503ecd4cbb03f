"""Generator speed: candidates per second on one core, without and with writing the ROOT file.

Each repeat generates one RNG block of ``size`` candidates with the task's generator (in this
process: one core) and writes them with egml's ROOT writer; rates count accepted candidates.
A first small block warms the generator up (imports, caches) and is not timed.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from egml.bench.stats import summary
from egml.sim import registry
from egml.sim.driver import make_config
from egml.sim.rng import block_rng
from egml.sim.writer import RootWriter


def measure_generator(task: str, size: int, repeats: int, workdir: Path) -> dict[str, Any]:
    out_dir = workdir / "generator"
    out_dir.mkdir(parents=True, exist_ok=True)
    config = make_config(seed=1000)
    generator = registry.generator_class(task)(config)
    generator.generate_block(block_rng(config.master_seed, generator.task_id, 10_000), 32)
    gen_rates, write_rates, counts, size_bytes = [], [], [], 0
    for r in range(repeats):
        t0 = time.perf_counter()
        columns = generator.generate_block(block_rng(config.master_seed, generator.task_id, r), size)
        t_gen = time.perf_counter() - t0
        n = len(next(iter(columns.values())))
        path = out_dir / f"{task}_{r}.root"
        t0 = time.perf_counter()
        counters = getattr(generator, "jagged_counters", None)
        with RootWriter(path, generator.tree, counters=counters) as writer:
            writer.extend(columns)
        t_write = time.perf_counter() - t0
        gen_rates.append(n / t_gen)
        write_rates.append(n / (t_gen + t_write))
        counts.append(n)
        size_bytes = path.stat().st_size
    shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "block_size": size,
        "accepted_per_block": summary(counts),
        "candidates_per_s_per_core": summary(gen_rates),
        "with_write_per_s": summary(write_rates),
        "with_write_slowdown": summary([g / w for g, w in zip(gen_rates, write_rates)]),
        "file_bytes_per_candidate": size_bytes / max(counts[-1], 1),
    }
