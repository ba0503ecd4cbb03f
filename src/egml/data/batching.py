"""Gathering whole batches from stored columns: one fancy-indexing op per field.

Jagged fields are padded to the longest entry of the batch (pad value = the branch map's
``default``, else 0) and come with a boolean ``<field>_mask`` of the same (B, L) shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from egml.data.store import Jagged, StoredColumn

MASK_SUFFIX = "_mask"


def to_tensor(array: np.ndarray) -> Tensor:
    """NumPy → torch, widening unsigned integers torch does not support well to int64."""
    if array.dtype.kind == "u" and array.dtype.itemsize > 1:
        array = array.astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(array))


def gather_batch(
    columns: Mapping[str, StoredColumn], rows: np.ndarray, pad: Mapping[str, float] | None = None
) -> dict[str, Tensor]:
    """The batch of rows ``rows`` as ``dict[str, Tensor]`` (jagged fields padded + ``_mask``)."""
    out: dict[str, Tensor] = {}
    for name, column in columns.items():
        if isinstance(column, Jagged):
            values, mask = _gather_jagged(column, rows, (pad or {}).get(name, 0.0))
            out[name] = to_tensor(values)
            out[name + MASK_SUFFIX] = torch.from_numpy(mask)
        else:
            out[name] = to_tensor(np.asarray(column[rows]))
    return out


def _gather_jagged(column: Jagged, rows: np.ndarray, pad: float) -> tuple[np.ndarray, np.ndarray]:
    starts = np.asarray(column.offsets[rows])
    lengths = np.asarray(column.offsets[rows + 1]) - starts
    width = int(lengths.max()) if len(lengths) else 0
    slot = np.arange(width)
    mask = slot[None, :] < lengths[:, None]
    flat = np.where(mask, starts[:, None] + slot[None, :], 0)
    if len(column.content) == 0:
        values = np.full((len(rows), width, *column.content.shape[1:]), pad, dtype=column.content.dtype)
        return values, mask
    values = np.asarray(column.content[flat.ravel()]).reshape((len(rows), width, *column.content.shape[1:]))
    pad_mask = ~mask.reshape(mask.shape + (1,) * (values.ndim - 2))
    return np.where(pad_mask, values.dtype.type(pad), values), mask


class BatchIndexSampler(Sampler[np.ndarray]):
    """Yields arrays of row positions, one per batch (use with ``DataLoader(batch_size=None)``).

    Shuffling is a permutation drawn from ``seed + epoch``; Lightning calls :meth:`set_epoch`.
    Under DDP, Lightning wraps this sampler and hands whole batches to each rank.
    """

    def __init__(
        self, n: int, batch_size: int, shuffle: bool = False, seed: int = 0, drop_last: bool = False
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}; expected a positive integer")
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = (
            n,
            batch_size,
            shuffle,
            seed,
            drop_last,
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        order = (
            np.random.default_rng(self.seed + self.epoch).permutation(self.n)
            if self.shuffle
            else np.arange(self.n)
        )
        for i in range(len(self)):
            yield order[i * self.batch_size : (i + 1) * self.batch_size]
