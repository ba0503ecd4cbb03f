"""Generation driver: RNG blocks → chunks → (optional worker processes) → ROOT.

Blocks b = 0, 1, 2, … are generated in chunks of ``chunk_blocks`` whole blocks, each
block from its own stream ``block_rng(seed, task_id, b)`` (PHYSICS.md §0 rule 5). Chunks
are consumed strictly in block order and the accepted candidates are truncated to
exactly ``n``, so the output is identical for any chunk size and worker count. With
``workers > 1`` chunks run in a process pool (spawn by default, fork-safe too) with a
bounded number in flight, so memory stays bounded for millions of candidates.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

import egml
from egml.sim import registry
from egml.sim.base import BLOCK_SIZE, SIM_VERSION, Columns, GenConfig, Shift, config_hash, generator_version
from egml.sim.rng import block_rng
from egml.sim.writer import DEFAULT_COMPRESSION, RootWriter

_ZERO_ACCEPTANCE_BLOCKS = 64  # give up if this many blocks accept nothing at all
CONFIG_HASH_BRANCH = "gen_config_hash"  # §6: per-candidate generator configuration hash (int64)
_worker_state: tuple[Any, int] | None = None  # (generator, master seed) of a worker process
_worker_error: Exception | None = None


def make_config(
    seed: int = GenConfig.master_seed,
    detector_seed: int = GenConfig.detector_seed,
    shift: Shift | str | dict[str, float] | None = None,
    knobs: dict[str, Any] | None = None,
) -> GenConfig:
    """A validated GenConfig (seeds non-negative, shift from a name/dict/Shift)."""
    for name, value in (("seed", seed), ("detector_seed", detector_seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return GenConfig(
        master_seed=int(seed),
        detector_seed=int(detector_seed),
        shift=Shift.coerce(shift),
        knobs=dict(knobs or {}),
    )


def concatenate(parts: list[Columns]) -> Columns:
    """Concatenate column dicts in order (numpy or awkward per column)."""
    if len(parts) == 1:
        return parts[0]
    out: Columns = {}
    for key, first in parts[0].items():
        values = [p[key] for p in parts]
        out[key] = np.concatenate(values) if isinstance(first, np.ndarray) else ak.concatenate(values)
    return out


def _n_entries(columns: Columns, where: str) -> int:
    lengths = {k: len(v) for k, v in columns.items()}
    if not lengths or len(set(lengths.values())) != 1:
        raise ValueError(f"{where}: columns must be non-empty and of equal length, got {lengths}")
    return next(iter(lengths.values()))


def _run_blocks(generator: Any, seed: int, first_block: int, n_blocks: int) -> Columns:
    parts = []
    for b in range(first_block, first_block + n_blocks):
        block = generator.generate_block(block_rng(seed, generator.task_id, b), BLOCK_SIZE)
        if _n_entries(block, f"{type(generator).__name__}.generate_block(block {b})") > BLOCK_SIZE:
            raise ValueError(f"block {b} returned more than BLOCK_SIZE={BLOCK_SIZE} candidates")
        parts.append(block)
    return concatenate(parts)


def _init_worker(task_path: str, config: GenConfig) -> None:
    global _worker_state, _worker_error
    try:
        _worker_state = (registry.generator_class(task_path)(config), config.master_seed)
    except Exception as err:  # re-raised by each task: a failing initializer would make Pool respawn forever
        _worker_error = err


def _worker_chunk(first_block: int, n_blocks: int) -> Columns:
    if _worker_state is None:
        raise RuntimeError(f"worker initialisation failed: {_worker_error!r}")
    return _run_blocks(*_worker_state, first_block, n_blocks)


def iter_chunks(
    task: str | type,
    n: int,
    config: GenConfig,
    *,
    chunk_blocks: int = 4,
    workers: int = 1,
    start_method: str = "spawn",
    generator: Any = None,
) -> Iterator[Columns]:
    """Accepted candidates, chunk by chunk in block order, exactly ``n`` in total.

    Chunks are submitted lazily: no more are in flight than the observed acceptance says
    are needed to reach ``n`` (and at most ``2 * workers``), so little work is wasted.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not isinstance(chunk_blocks, int) or chunk_blocks < 1:
        raise ValueError(f"chunk_blocks must be a positive integer, got {chunk_blocks!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    task_path = registry.import_path(task)
    generator = generator or registry.generator_class(task)(config)
    pool = None
    if workers > 1:
        pool = mp.get_context(start_method).Pool(
            workers, initializer=_init_worker, initargs=(task_path, config)
        )
    in_flight: deque[tuple[int, Any]] = deque()  # (n_blocks, async result or ready columns)
    next_block, accepted, blocks_done = 0, 0, 0
    try:
        while accepted < n:
            acceptance = accepted / (blocks_done * BLOCK_SIZE) if accepted else 1.0
            expected = acceptance * BLOCK_SIZE * sum(nb for nb, _ in in_flight)
            while (not in_flight or accepted + expected < n) and len(in_flight) < (
                2 * workers if pool else 1
            ):
                if pool is None:
                    result: Any = _run_blocks(generator, config.master_seed, next_block, chunk_blocks)
                else:
                    result = pool.apply_async(_worker_chunk, (next_block, chunk_blocks))
                in_flight.append((chunk_blocks, result))
                next_block += chunk_blocks
                expected += acceptance * BLOCK_SIZE * chunk_blocks
            n_blocks, result = in_flight.popleft()
            chunk = result if pool is None else result.get()
            blocks_done += n_blocks
            size = _n_entries(chunk, "chunk")
            if accepted == 0 and size == 0 and blocks_done >= _ZERO_ACCEPTANCE_BLOCKS:
                raise RuntimeError(f"task {task!r}: no candidate accepted in {blocks_done} blocks")
            take = min(size, n - accepted)
            if take:
                yield chunk if take == size else {k: v[:take] for k, v in chunk.items()}
            accepted += take
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def generate_columns(
    task: str | type, n: int, *, chunk_blocks: int = 4, workers: int = 1, **config: Any
) -> Columns:
    """In-memory version of :func:`generate` (for tests and small samples)."""
    cfg = make_config(**config)
    return concatenate(list(iter_chunks(task, n, cfg, chunk_blocks=chunk_blocks, workers=workers)))


def generate(
    task: str | type,
    n: int,
    out: str | os.PathLike[str],
    *,
    seed: int = GenConfig.master_seed,
    detector_seed: int = GenConfig.detector_seed,
    shift: Shift | str | dict[str, float] | None = None,
    knobs: dict[str, Any] | None = None,
    chunk_blocks: int = 4,
    workers: int = 1,
    compression: str | None = DEFAULT_COMPRESSION,
    progress: bool | None = None,
    start_method: str = "spawn",
) -> Path:
    """Generate ``n`` candidates of ``task`` and write them, streaming, to the ROOT file ``out``.

    The tree is the generator's (§7); the file-level ``gen_config`` JSON holds the §6
    metadata; a per-candidate ``gen_config_hash`` branch is added if the generator has none.
    """
    config = make_config(seed, detector_seed, shift, knobs)
    generator = registry.generator_class(task)(config)
    if progress is None:
        progress = sys.stderr.isatty()
    digest = config_hash(generator.task, generator.task_id, generator_version(generator), config)
    hash_value = np.int64(int(digest[:15], 16))  # 60 bits: fits a signed int64 branch
    counters = getattr(generator, "jagged_counters", None)
    bar = _progress_bar(n, f"egml.sim {generator.task}", progress)
    try:
        with RootWriter(out, generator.tree, compression=compression, counters=counters) as writer:
            chunks = iter_chunks(
                task,
                n,
                config,
                chunk_blocks=chunk_blocks,
                workers=workers,
                start_method=start_method,
                generator=generator,
            )
            for chunk in chunks:
                size = _n_entries(chunk, "chunk")
                if CONFIG_HASH_BRANCH not in chunk:
                    chunk = {**chunk, CONFIG_HASH_BRANCH: np.full(size, hash_value, np.int64)}
                writer.extend(chunk)
                bar.update(size)
            meta = gen_config_metadata(generator, config, writer.branches, writer.counters, digest)
            meta["compression"] = str(writer.compression)
            writer.set_metadata("gen_config", meta)
    finally:
        bar.close()
    return writer.path


def gen_config_metadata(
    generator: Any, config: GenConfig, branches: list[str], counters: dict[str, str], digest: str
) -> dict[str, Any]:
    """The §6 file-level metadata: versions, seeds, knobs, shift, units of every branch, and
    whatever the generator's ``metadata()`` adds (axis order, IFF enum version, knob values)."""
    units = dict(generator.branch_units())
    units.setdefault(CONFIG_HASH_BRANCH, "")
    for counter in counters.values():
        units.setdefault(counter, "")
    missing = [b for b in branches if b not in units]
    if missing:
        warnings.warn(f"{type(generator).__name__}: no unit for branch(es) {missing}", stacklevel=3)
    extra = dict(generator.metadata())
    meta: dict[str, Any] = {
        "egml_version": egml.__version__,
        "physics_version": SIM_VERSION,
        "generator_version": generator_version(generator),
        "generator": f"{type(generator).__module__}:{type(generator).__qualname__}",
        "task": generator.task,
        "tree": generator.tree,
        "seeds": {
            "master": config.master_seed,
            "detector_seed": config.detector_seed,
            "task_id": int(generator.task_id),
            "block_size": BLOCK_SIZE,
        },
        "knobs": extra.pop("knobs", dict(config.knobs)),
        "shift": {"name": config.shift.label(), **config.shift.__dict__},
        "units": {b: units[b] for b in branches if b in units},
        "branches": branches,
        "config_hash": digest,
    }
    for key, value in extra.items():
        meta.setdefault(key, value)
    return meta


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="cand", unit_scale=True, dynamic_ncols=True)
