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


def split_batches(
    order: np.ndarray, batch_size: int, rank: int = 0, world_size: int = 1, drop_last: bool = False
) -> list[np.ndarray]:
    """Rank ``rank``'s batches of the rows ``order`` (in that order).

    One process: consecutive slices of ``batch_size`` (the last may be short). Under DDP every
    rank must take the same number of optimiser steps, so the rows are cut into
    ``world_size × k`` batches of near-equal size (``k = ceil(n / (batch_size × world_size))``,
    sizes differ by at most one row) dealt round-robin: each row lands in exactly one batch of
    one rank. Fewer rows than ranks give no batches at all (such rows are not used). ``drop_last`` keeps only full batches (a multiple of ``world_size`` of them).
    """
    n = len(order)
    if world_size == 1:
        count = n // batch_size if drop_last else -(-n // batch_size)
        return [order[i * batch_size : (i + 1) * batch_size] for i in range(count)]
    if drop_last:
        k = n // (batch_size * world_size)
        pieces = np.split(order[: k * world_size * batch_size], k * world_size) if k else []
    else:
        k = min(-(-n // (batch_size * world_size)), n // world_size)  # no empty batch (n < world: none)
        pieces = np.array_split(order, k * world_size) if k else []
    return list(pieces[rank::world_size])


class BatchIndexSampler(Sampler[np.ndarray]):
    """Yields arrays of row positions, one per batch (use with ``DataLoader(batch_size=None)``).

    Shuffling is a permutation drawn from ``(seed, epoch)`` only (never the global RNG), so an
    epoch is reproducible anywhere; Lightning calls :meth:`set_epoch`. Under DDP give ``rank``
    and ``world_size`` (and ``Trainer(use_distributed_sampler=False)``): every rank draws the same
    permutation and takes its own share of batches (:func:`split_batches`). :meth:`resume`
    makes the next pass over epoch ``epoch`` skip the batches a killed run already used.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}; expected a positive integer")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} with world_size={world_size}; expected 0 <= rank < world_size")
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = (
            n,
            batch_size,
            shuffle,
            seed,
            drop_last,
        )
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self._resume: tuple[int, int] | None = None  # (epoch, batches to skip)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def resume(self, epoch: int, skip: int) -> None:
        """The next pass, if over ``epoch``, starts after its first ``skip`` batches."""
        self.epoch, self._resume = int(epoch), (int(epoch), int(skip))

    def batches(self) -> list[np.ndarray]:
        """This rank's batches of the current epoch."""
        order = (
            np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
            if self.shuffle
            else np.arange(self.n)
        )
        return split_batches(order, self.batch_size, self.rank, self.world_size, self.drop_last)

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)
        per = self.batch_size * self.world_size
        return self.n // per if self.drop_last else min(-(-self.n // per), self.n // self.world_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        skip = 0
        if self._resume is not None and self._resume[0] == self.epoch:
            skip = self._resume[1]
        self._resume = None
        yield from self.batches()[skip:]
