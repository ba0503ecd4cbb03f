"""Random streams of the generator (PHYSICS.md §0 rule 5).

Block ``b`` of task ``task_id`` draws from its own stream keyed by ``(task_id, b)``; the
per-detector-instance maps (§1.5) use ``detector_rng(detector_seed)``. Streams are pure
functions of their keys, so output is independent of chunking and worker count.
"""

from __future__ import annotations

import zlib

import numpy as np

SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
_SPLIT_SALT = 0x5EED  # keeps split seeds apart from any (task_id, block) spawn key


def block_rng(master_seed: int, task_id: int, block: int) -> np.random.Generator:
    """Generator for RNG block ``block`` of task ``task_id``: PCG64(SeedSequence(master, (task_id, b)))."""
    if master_seed < 0 or task_id < 0 or block < 0:
        raise ValueError(
            f"block_rng needs non-negative seed, task_id and block, got {master_seed}, {task_id}, {block}"
        )
    seq = np.random.SeedSequence(entropy=int(master_seed), spawn_key=(int(task_id), int(block)))
    return np.random.Generator(np.random.PCG64(seq))


def detector_rng(detector_seed: int) -> np.random.Generator:
    """Generator of the per-detector-instance maps (§1.5): SeedSequence(entropy=detector_seed)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=int(detector_seed))))


def split_seed(seed: int, split: str) -> int:
    """Master seed of a data split, derived from the user's seed so that train/val/test are
    independent samples (the detector seed, hence the detector instance, is shared)."""
    if not split or not isinstance(split, str):
        raise ValueError(f"split must be a non-empty string such as 'train', got {split!r}")
    split_id = SPLIT_IDS.get(split, 1000 + zlib.crc32(split.encode()))
    seq = np.random.SeedSequence(entropy=int(seed), spawn_key=(_SPLIT_SALT, split_id))
    hi, lo = (int(x) for x in seq.generate_state(2, np.uint32))
    return (hi << 32) | lo
