"""Datasets yielding whole batches as ``dict[str, Tensor]`` keyed by canonical field names.

- :class:`BatchedDataset`: in memory (or memory-mapped cache); ``dataset[positions]`` returns a
  batch; pair it with :class:`~egml.data.batching.BatchIndexSampler` and ``batch_size=None``.
- :class:`StreamingDataset`: an IterableDataset over the ROOT files read chunk by chunk (uproot,
  ``entry_start``/``entry_stop``), for data larger than memory. Chunks are dealt to DataLoader
  workers and each chunk's rows to DDP ranks, so each entry is used exactly once per epoch.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from egml.data.batching import gather_batch, split_batches
from egml.data.branch_map import FieldSpec
from egml.data.cache import StoredTable, read_cache
from egml.data.files import open_tree
from egml.data.reader import Table, apply_nonfinite_policy, nan_allowed, read_tree
from egml.data.split import assign_split, event_keys, file_entry_keys
from egml.data.store import Jagged, StoredColumn, take_rows, to_stored

#: debug batch field (``EgmlDataModule.record_entry_ids``): ``file index << 40 | entry`` per row
ENTRY_ID = "entry_id"
RowHook = Callable[[dict[str, StoredColumn]], dict[str, np.ndarray]]  # adds per-row columns (e.g. weight)
MAX_WORKERS = 64


def entry_ids(file_id: np.ndarray, entry: np.ndarray) -> np.ndarray:
    """One int64 per row naming its (file, entry): ``file << 40 | entry``."""
    return (np.asarray(file_id, dtype=np.int64) << 40) | np.asarray(entry, dtype=np.int64)


class BatchedDataset(Dataset):
    """Rows ``rows`` of a stored table; indexing with an array of positions gives one batch."""

    def __init__(
        self,
        table: StoredTable,
        rows: np.ndarray,
        extra: Mapping[str, np.ndarray] | None = None,
        pad: Mapping[str, float] | None = None,
        fields: Sequence[str] | None = None,
    ) -> None:
        self.table, self.rows = table, np.asarray(rows, dtype=np.int64)
        self.extra, self.pad = dict(extra or {}), dict(pad or {})
        self.fields = list(fields) if fields is not None else list(table.columns)
        self._columns = self._plain_columns()
        # every row of the table, in order (a split stored in files of its own): a position is its row
        self._all_rows = bool(
            len(self.rows) == len(table) and np.array_equal(self.rows, np.arange(len(table)))
        )

    def _plain_columns(self) -> dict[str, StoredColumn]:
        """The fields' stored columns as plain ndarrays: views of the same (memory-mapped) bytes
        without ``np.memmap``'s Python-level ``__getitem__``/``__array_finalize__``, which cost
        as much as the gather itself (≈ 2.5 µs per column and batch)."""
        return {k: plain_column(self.table.columns[k]) for k in self.fields}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions: np.ndarray) -> dict[str, Tensor]:
        positions = np.asarray(positions)
        # sorted rows read memory-maps in order
        rows = np.sort(positions.astype(np.int64, copy=False) if self._all_rows else self.rows[positions])
        return gather_batch(self._columns | self.extra, rows, self.pad)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_columns")  # views of the table: rebuilt on unpickling
        if self.table.cache_path is not None:  # re-open the memory-map in the worker, never pickle data
            state["table"] = self.table.cache_path
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state["table"], str):
            state["table"] = read_cache(state["table"])
        self.__dict__.update(state)
        self._columns = self._plain_columns()


def plain_column(column: StoredColumn) -> StoredColumn:
    """``column`` with ``np.memmap`` arrays viewed as plain ndarrays (no copy)."""
    if isinstance(column, Jagged):
        return Jagged(np.asarray(column.offsets), np.asarray(column.content))
    return np.asarray(column)


@dataclass
class StreamConfig:
    """What a streaming dataset reads and how it selects its split."""

    files: list[str]
    tree: str
    specs: dict[str, FieldSpec]
    selection: str | None = None
    objects: str | None = None
    nonfinite: str = "fail"
    split: int | None = None  # 0 train, 1 val, 2 test, None: every row
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    key_branches: tuple[str, ...] = ()  # event-id branches (also in specs); () = (file, entry)
    salt: int = 0
    chunk_entries: int = 100_000
    pad: dict[str, float] = field(default_factory=dict)


class StreamingDataset(IterableDataset):
    """Batches streamed from ROOT; chunk and row order reshuffled each epoch when ``shuffle``.

    Chunks are dealt to DataLoader workers; the rows of each chunk are dealt to DDP ranks in
    near-equal batches (:func:`~egml.data.batching.split_batches`), so every rank takes the same
    number of steps (DDP needs that) and each entry is used exactly once per epoch. The price:
    every rank reads every chunk (I/O × world size; the split is decided per row anyway). Batches
    never straddle chunks. The permutations come from ``(seed, epoch, chunk)`` only.
    ``rank``/``world_size`` default to the torch.distributed group; ``world_size=1`` unshards.
    """

    def __init__(
        self,
        config: StreamConfig,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        hook: RowHook | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.config, self.batch_size, self.shuffle, self.seed, self.hook = (
            config,
            batch_size,
            shuffle,
            seed,
            hook,
        )
        self.rank, self.world_size = rank, world_size
        self.base_epoch = 0
        # iterations done per worker (shared across fork), so each worker knows the epoch number
        self._iterations = multiprocessing.Array("i", MAX_WORKERS, lock=False)
        self._chunks: list[tuple[int, int, int]] | None = None
        self._resume: tuple[int, int] | None = None  # (epoch, batches already used over all workers)
        self.entry_ids = False  # add ENTRY_ID to every batch (debugging, tests)

    def set_epoch(self, epoch: int) -> None:
        self.base_epoch = int(epoch)
        self._iterations[:] = [0] * MAX_WORKERS

    def resume(self, epoch: int, skip: int) -> None:
        """The next pass over ``epoch`` skips the first ``skip`` batches the loader would yield.

        Exact with 0 workers. With several, the DataLoader takes batches from its workers in turn
        and restarts at worker 0, so the workers' chunk shares are rotated to continue the
        interrupted order; exact while no worker had run out of chunks before batch ``skip``.
        """
        self.set_epoch(epoch)
        self._resume = (int(epoch), int(skip))

    def chunks(self) -> list[tuple[int, int, int]]:
        """(file index, entry start, entry stop) for every chunk, in file order; a file's short
        tail (under half a chunk) joins the chunk before it, so no chunk is tiny."""
        if self._chunks is None:
            size = self.config.chunk_entries
            out = []
            for i, path in enumerate(self.config.files):
                n = open_tree(path, self.config.tree).num_entries
                starts = list(range(0, n, size))
                if len(starts) > 1 and n - starts[-1] < size // 2:
                    starts.pop()
                out += [(i, s, starts[j + 1] if j + 1 < len(starts) else n) for j, s in enumerate(starts)]
            self._chunks = out
        return self._chunks

    def ranks(self) -> tuple[int, int]:
        """(rank, world size) this dataset shards rows over."""
        if self.world_size is not None:
            return int(self.rank or 0), int(self.world_size)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        rank, world = self.ranks()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        epoch = self.base_epoch + self._iterations[worker]
        self._iterations[worker] += 1
        skip, part = 0, worker
        if self._resume is not None and self._resume[0] == epoch:
            # the loader takes batches from workers round-robin, starting again at worker 0: this
            # worker continues the chunks of the one whose turn came next, after its used batches
            used = self._resume[1]
            part = (worker + used) % workers
            skip = max(0, (used - part + workers - 1) // workers)
        self._resume = None
        chunks = self.chunks()
        order = (
            np.random.default_rng([self.seed, epoch]).permutation(len(chunks))
            if self.shuffle
            else np.arange(len(chunks))
        )
        for c in order[part::workers]:
            columns = self.read_chunk(*chunks[c])
            n = len(next(iter(columns.values()))) if columns else 0
            rows = (
                np.random.default_rng([self.seed, epoch, int(c)]).permutation(n)
                if self.shuffle
                else np.arange(n)
            )
            batches = split_batches(rows, self.batch_size, rank, world)
            if skip >= len(batches):
                skip -= len(batches)
                continue
            for batch in batches[skip:]:
                yield gather_batch(columns, np.sort(batch), self.config.pad)
            skip = 0

    def fixed_columns(self) -> dict[str, np.ndarray]:
        """Every fixed-shape field of the whole (unsharded) split in file order, in memory: what
        an unshuffled single-process pass yields, for the classical baselines."""
        parts = [self.read_chunk(*c) for c in self.chunks()]
        names = [k for k in self.config.specs if parts and isinstance(parts[0].get(k), np.ndarray)]
        return {k: np.concatenate([p[k] for p in parts]) for k in names}

    def read_chunk(self, file_index: int, start: int, stop: int) -> dict[str, StoredColumn]:
        """Stored columns of one chunk, restricted to this dataset's split (plus hook columns)."""
        cfg = self.config
        path = cfg.files[file_index]
        columns, entry = read_tree(
            open_tree(path, cfg.tree), path, cfg.tree, cfg.specs, cfg.selection, cfg.objects, start, stop
        )
        file_id = np.full(len(entry), file_index, dtype=np.int32)
        table = apply_nonfinite_policy(  # type: ignore[arg-type]
            Table(columns, file_id, entry, cfg.files), cfg.nonfinite, cfg.tree, nan_allowed(cfg.specs)
        )
        stored = {k: to_stored(k, v) for k, v in table.columns.items()}
        ids = entry_ids(table.file_id, table.entry)
        if cfg.split is not None:
            keep = np.flatnonzero(split_codes(stored, table.file_id, table.entry, cfg) == cfg.split)
            stored, ids = {k: take_rows(v, keep) for k, v in stored.items()}, ids[keep]
        if self.hook is not None:
            stored |= self.hook(stored)
        if self.entry_ids:
            stored[ENTRY_ID] = ids
        return stored


def split_codes(
    columns: Mapping[str, StoredColumn], file_id: np.ndarray, entry: np.ndarray, cfg: StreamConfig
) -> np.ndarray:
    """Split code per row from the event-id branches, else from (file name, entry)."""
    if cfg.key_branches:
        keys = event_keys([np.asarray(columns[b]) for b in cfg.key_branches], cfg.salt)
    else:
        keys = file_entry_keys(cfg.files, file_id, entry, cfg.salt)
    return assign_split(keys, cfg.fractions)
