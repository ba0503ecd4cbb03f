"""Deterministic train/val/test split keyed on a hash of the event identity.

Each row's split depends only on its own key: an event-identifier branch (e.g. ``evt_eventNo``,
optionally with ``evt_runNo``), else (file base name, entry number). Adding files therefore never
moves rows already assigned, and all candidates of one event land in the same split.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np

from egml.data.errors import DataError

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test")
# branch names tried, in order, when split_key="auto" (ATLAS T1 §7, ATLAS/CMS common names)
EVENT_ID_BRANCHES = ("evt_eventNo", "eventNumber", "EventNumber", "event")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Vectorised SplitMix64 finaliser (Steele et al. 2014): a bijective 64-bit mixer."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def string_hash(text: str) -> np.uint64:
    """A stable 64-bit hash of a string (BLAKE2b; Python's ``hash`` is salted per process)."""
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))


def event_keys(ids: Sequence[np.ndarray], salt: int = 0) -> np.ndarray:
    """Combine one or more integer id columns (e.g. run, event) into one uint64 key per row."""
    key = np.full(len(ids[0]), np.uint64(salt) & _MASK64, dtype=np.uint64)
    for column in ids:
        column = np.asarray(column)
        if not np.issubdtype(column.dtype, np.integer):
            raise DataError(f"split key column has dtype {column.dtype}; expected integer event identifiers")
        key = splitmix64(key ^ column.astype(np.int64).view(np.uint64))
    return key


def file_entry_keys(
    files: Sequence[str], file_id: np.ndarray, entry: np.ndarray, salt: int = 0
) -> np.ndarray:
    """Keys from (file base name, entry number): stable when files are added or moved."""
    file_hash = np.array([string_hash(os.path.basename(f)) for f in files], dtype=np.uint64)
    return splitmix64(splitmix64(file_hash[file_id] ^ np.uint64(salt)) ^ entry.astype(np.uint64))


def assign_split(keys: np.ndarray, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Split code per row (0 train, 1 val, 2 test) from a uniform number derived from its key."""
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise DataError(
            f"split fractions {list(fractions)} are invalid; expected 3 non-negative numbers summing to 1"
        )
    u = (splitmix64(keys) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))  # uniform in [0, 1)
    return np.searchsorted(np.cumsum(f)[:2], u, side="right").astype(np.int8)
