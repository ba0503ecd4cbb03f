"""Datasets yielding whole batches as ``dict[str, Tensor]`` keyed by canonical field names.

- :class:`BatchedDataset`: in memory (or memory-mapped cache); ``dataset[positions]`` returns a
  batch; pair it with :class:`~egml.data.batching.BatchIndexSampler` and ``batch_size=None``.
- :class:`StreamingDataset`: an IterableDataset over the ROOT files read chunk by chunk (uproot,
  ``entry_start``/``entry_stop``), for data larger than memory. Chunks are sharded over
  (DDP rank, DataLoader worker) so each entry is read exactly once per epoch.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from egml.data.batching import gather_batch
from egml.data.branch_map import FieldSpec
from egml.data.cache import StoredTable, read_cache
from egml.data.files import open_tree
from egml.data.reader import Table, apply_nonfinite_policy, nan_allowed, read_tree
from egml.data.split import assign_split, event_keys, file_entry_keys
from egml.data.store import StoredColumn, take_rows, to_stored

RowHook = Callable[[dict[str, StoredColumn]], dict[str, np.ndarray]]  # adds per-row columns (e.g. weight)
MAX_WORKERS = 64


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

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions: np.ndarray) -> dict[str, Tensor]:
        rows = np.sort(self.rows[np.asarray(positions)])  # sorted rows read memory-maps in order
        columns = {k: self.table.columns[k] for k in self.fields} | self.extra
        return gather_batch(columns, rows, self.pad)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.table.cache_path is not None:  # re-open the memory-map in the worker, never pickle data
            state["table"] = self.table.cache_path
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state["table"], str):
            state["table"] = read_cache(state["table"])
        self.__dict__.update(state)


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
    """Batches streamed from ROOT; chunk order reshuffled each epoch when ``shuffle``.

    Batches never straddle chunks, so the last batch of a chunk may be short. Ranks can receive
    different numbers of batches; under DDP pair it with Lightning's uneven-input handling or
    give ``chunk_entries`` that divides the data evenly.
    """

    def __init__(
        self,
        config: StreamConfig,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        hook: RowHook | None = None,
    ) -> None:
        self.config, self.batch_size, self.shuffle, self.seed, self.hook = (
            config,
            batch_size,
            shuffle,
            seed,
            hook,
        )
        self.base_epoch = 0
        # iterations done per worker (shared across fork), so each worker knows the epoch number
        self._iterations = multiprocessing.Array("i", MAX_WORKERS, lock=False)
        self._chunks: list[tuple[int, int, int]] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.base_epoch = int(epoch)
        self._iterations[:] = [0] * MAX_WORKERS

    def chunks(self) -> list[tuple[int, int, int]]:
        """(file index, entry start, entry stop) for every chunk, in file order."""
        if self._chunks is None:
            out = []
            for i, path in enumerate(self.config.files):
                n = open_tree(path, self.config.tree).num_entries
                out += [
                    (i, s, min(s + self.config.chunk_entries, n))
                    for s in range(0, n, self.config.chunk_entries)
                ]
            self._chunks = out
        return self._chunks

    def shard(self) -> tuple[int, int]:
        """(shard id, number of shards) over DDP ranks × DataLoader workers."""
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank * workers + worker, world * workers

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        shard, n_shards = self.shard()
        info = get_worker_info()
        slot = info.id if info is not None else 0
        epoch = self.base_epoch + self._iterations[slot]
        self._iterations[slot] += 1
        rng = np.random.default_rng([self.seed, epoch])
        chunks = self.chunks()
        order = rng.permutation(len(chunks)) if self.shuffle else np.arange(len(chunks))
        for c in order[shard::n_shards]:
            columns = self.read_chunk(*chunks[c])
            n = len(next(iter(columns.values()))) if columns else 0
            rows = rng.permutation(n) if self.shuffle else np.arange(n)
            for start in range(0, n, self.batch_size):
                yield gather_batch(columns, np.sort(rows[start : start + self.batch_size]), self.config.pad)

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
        if cfg.split is not None:
            keep = split_codes(stored, table.file_id, table.entry, cfg) == cfg.split
            stored = {k: take_rows(v, np.flatnonzero(keep)) for k, v in stored.items()}
        if self.hook is not None:
            stored |= self.hook(stored)
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
