"""Column storage shared by the cache and the datasets: NumPy arrays, and jagged fields as
(offsets, flat content) so a batch can be gathered with one fancy-indexing op per field."""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from egml.data.errors import DataError


@dataclass(frozen=True)
class Jagged:
    """A variable-length field: entry ``i`` is ``content[offsets[i]:offsets[i + 1]]``."""

    offsets: np.ndarray  # int64, length n + 1
    content: np.ndarray  # (total, *inner)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def to_awkward(self) -> ak.Array:
        return ak.unflatten(np.asarray(self.content), self.counts)


StoredColumn = np.ndarray | Jagged


def to_stored(name: str, value: np.ndarray | ak.Array) -> StoredColumn:
    """NumPy stays NumPy; a singly-jagged awkward array becomes :class:`Jagged`."""
    if isinstance(value, np.ndarray):
        return value
    counts = ak.to_numpy(ak.num(value, axis=1)).astype(np.int64)
    try:
        content = ak.to_numpy(ak.flatten(value, axis=1))
    except Exception:
        raise DataError(
            f"field {name!r} has type {value.type}; expected fixed arrays or one variable-length axis"
        ) from None
    return Jagged(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), content)


def take_rows(column: StoredColumn, rows: np.ndarray) -> StoredColumn:
    """Rows ``rows`` of a stored column (a copy)."""
    if isinstance(column, np.ndarray):
        return column[rows]
    starts, counts = column.offsets[rows], column.counts[rows]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    flat = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
    return Jagged(offsets, column.content[flat])
