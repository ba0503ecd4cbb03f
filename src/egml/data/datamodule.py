"""``EgmlDataModule``: the generic LightningDataModule every egml task uses.

Batches are ``dict[str, Tensor]`` with the requested canonical ``fields``, ``weight`` (float32,
from ``reweighting`` times a ``weight`` field if one is loaded, else 1) and ``<field>_mask`` for
jagged fields. Normalisation statistics (training split only) and the reweighting tables are in
:meth:`state_dict`, which Lightning stores in every checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from egml.data.batching import BatchIndexSampler
from egml.data.branch_map import FieldSpec, parse_branch_map
from egml.data.cache import StoredTable, load_cached
from egml.data.datasets import (
    ENTRY_ID,
    BatchedDataset,
    StreamConfig,
    StreamingDataset,
    entry_ids,
    split_codes,
)
from egml.data.errors import DataError
from egml.data.files import open_tree, resolve_files
from egml.data.normalization import Normalization, RunningMoments, check_method, fit_normalization
from egml.data.resident import ResidentDataset, check_resident, wants_resident
from egml.data.resumable import ResumableLoader
from egml.data.reweighting import Reweighter
from egml.data.split import EVENT_ID_BRANCHES, SPLIT_NAMES

_REWEIGHT_KEYS = ("pt", "eta", "label", "signal_labels", "target", "pt_bins", "eta_bins", "class_weights")


def batch_as_is(batch: Any) -> Any:
    """The loaders' ``collate_fn``: every egml dataset yields whole batches already."""
    return batch


class EgmlDataModule(L.LightningDataModule):
    """ROOT files → train/val/test dataloaders of batch dicts.

    Args:
        files: paths/globs split by ``split_fractions``; or give ``train_files``/``val_files``/``test_files``.
        tree: TTree path, e.g. ``SinglePhoton`` or ``fevt/RHTree``.
        branch_map: canonical field → branch or ``{branch|expr, scale, reshape, ...}`` (see branch_map.py).
        fields: canonical names the task needs (default: every field of the map).
        selection, objects: see :func:`egml.data.load`.
        split_fractions: train/val/test fractions; split_key: ``"auto"`` (first of
            ``evt_eventNo, eventNumber, EventNumber, event`` present), a branch or list of branches,
            or None for (file name, entry); split_salt changes the assignment deterministically.
        mode: ``"memory"`` (decoded once, cached when ``cache_dir`` is set) or ``"stream"``.
        normalization: fields whose mean/std are fitted on the training split.
        reweighting: ``{pt, eta (optional), label, signal_labels, target, pt_bins, eta_bins, class_weights}``.
        nonfinite: NaN/inf policy ``fail`` | ``drop`` | ``ignore``.
    """

    def __init__(
        self,
        files: Sequence[str] | str | None = None,
        tree: str = "SinglePhoton",
        branch_map: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        train_files: Sequence[str] | str | None = None,
        val_files: Sequence[str] | str | None = None,
        test_files: Sequence[str] | str | None = None,
        selection: str | None = None,
        objects: str | None = None,
        split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
        split_key: str | Sequence[str] | None = "auto",
        split_salt: int = 0,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        mode: str = "memory",
        cache_dir: str | os.PathLike[str] | None = None,
        num_workers: int = 0,
        normalization: Sequence[str] | None = None,
        normalization_method: str = "standard",
        normalization_clip: float | None = None,
        reweighting: Mapping[str, Any] | None = None,
        nonfinite: str = "fail",
        seed: int = 0,
        chunk_entries: int = 100_000,
        pin_memory: bool = False,
        resident: str = "auto",
    ) -> None:
        super().__init__()
        if mode not in ("memory", "stream"):
            raise DataError(f"data.mode={mode!r}; expected 'memory' or 'stream'")
        if files is None and train_files is None:
            raise DataError("no input files: set data.files, or data.train_files (with val_files/test_files)")
        if reweighting is not None:
            unknown = [k for k in reweighting if k not in _REWEIGHT_KEYS]
            if unknown or "pt" not in reweighting or "label" not in reweighting:
                raise DataError(
                    f"data.reweighting keys {sorted(reweighting)}; expected pt, label and optional {_REWEIGHT_KEYS[1:]}"
                )
        self.specs = parse_branch_map(branch_map, fields)
        self.fields = list(self.specs)
        self.files, self.split_files = files, {"train": train_files, "val": val_files, "test": test_files}
        self.tree, self.selection, self.objects, self.nonfinite = tree, selection, objects, nonfinite
        self.fractions = tuple(float(f) for f in split_fractions)
        self.split_key, self.split_salt = split_key, int(split_salt)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size or batch_size)
        self.mode, self.cache_dir, self.num_workers = mode, cache_dir, int(num_workers)
        self.norm_fields = list(normalization or [])
        check_method(normalization_method, normalization_clip)
        self.norm_method, self.norm_clip = normalization_method, normalization_clip
        self.reweight_cfg = dict(reweighting) if reweighting is not None else None
        self.seed, self.chunk_entries, self.pin_memory = int(seed), int(chunk_entries), pin_memory
        check_resident(resident)
        self.resident = resident
        # (split, device) → (the host dataset, its device copy)
        self._resident: dict[tuple[str, str], tuple[BatchedDataset, ResidentDataset]] = {}
        self.normalization: Normalization | None = None
        self.reweighter: Reweighter | None = None
        self.datasets: dict[str, BatchedDataset | StreamingDataset] = {}
        self.pad = {k: s.default for k, s in self.specs.items() if s.default is not None}

    # ----------------------------------------------------------------- setup
    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        if self.mode == "memory":
            self._setup_memory()
        else:
            self._setup_stream()

    def _key_branches(self, path: str) -> tuple[str, ...]:
        if self.split_key is None:
            return ()
        keys = set(open_tree(path, self.tree).keys())
        if self.split_key == "auto":
            return next(((b,) for b in EVENT_ID_BRANCHES if b in keys), ())
        wanted = (self.split_key,) if isinstance(self.split_key, str) else tuple(self.split_key)
        for b in wanted:
            if b not in keys:
                raise DataError(
                    f"{path}: split_key branch {b!r} is not in tree {self.tree!r}; use split_key=null for (file, entry)"
                )
        return wanted

    def _stream_config(self, files: list[str], split: int | None, keys: tuple[str, ...]) -> StreamConfig:
        specs = dict(self.specs) | {b: FieldSpec(name=b, branch=b) for b in keys if b not in self.specs}
        return StreamConfig(
            files,
            self.tree,
            specs,
            self.selection,
            self.objects,
            self.nonfinite,
            split,
            self.fractions,  # type: ignore[arg-type]
            keys,
            self.split_salt,
            self.chunk_entries,
            self.pad,
        )

    def _setup_memory(self) -> None:
        parts: dict[str, tuple[StoredTable, np.ndarray]] = {}
        if self.files is not None:
            paths = resolve_files(self.files)
            keys = self._key_branches(paths[0])
            table = self._load(paths, keys)
            codes = split_codes(
                table.columns, table.file_id, table.entry, self._stream_config(paths, None, keys)
            )
            parts = {name: (table, np.flatnonzero(codes == i)) for i, name in enumerate(SPLIT_NAMES)}
        else:
            for name, files in self.split_files.items():
                if files is not None:
                    table = self._load(resolve_files(files), ())
                    parts[name] = (table, np.arange(len(table)))
        if len(parts.get("train", (None, []))[1]) == 0:
            raise DataError(
                "the training split is empty; expected entries (check split_fractions and the selection)"
            )
        train_table, train_rows = parts["train"]
        self._check_training_classes(train_table, train_rows)
        if self.norm_fields and self.normalization is None:  # None unless restored from a checkpoint
            self.normalization = fit_normalization(
                train_table.columns, self.norm_fields, train_rows, self.norm_method, self.norm_clip
            )
        if self.reweight_cfg is not None and self.reweighter is None:
            cols = train_table.columns
            self.reweighter = self._fit_reweighter(
                {k: np.asarray(cols[k])[train_rows] for k in self._rw_fields()}
            )
        weights: dict[int, np.ndarray] = {}
        for name, (table, rows) in parts.items():
            if id(table) not in weights:
                weights[id(table)] = self._weights(table.columns)
            self.datasets[name] = BatchedDataset(
                table, rows, {"weight": weights[id(table)]}, self.pad, self._batch_fields()
            )

    def _check_training_classes(self, table: StoredTable, rows: np.ndarray) -> None:
        """Every required class must have entries in the training split itself (the files may
        hold it while the split, e.g. with few entries, leaves it all to val/test)."""
        for name, spec in self.specs.items():
            if not spec.require_classes or name not in table.columns:
                continue
            present = np.unique(np.asarray(table.columns[name])[rows])
            missing = [int(c) for c in spec.classes if c not in present]
            if missing:
                raise DataError(
                    f"field {name!r} (branch {spec.branch or spec.expr!r}): the training split has no entries "
                    f"of class {', '.join(map(str, missing))} (of {list(spec.classes)}) among its {len(rows)} "
                    "entries; expected every class in training: add entries of it or change data.split"
                )

    def _load(self, paths: list[str], keys: tuple[str, ...]) -> StoredTable:
        return load_cached(
            paths,
            self.tree,
            self.specs,
            None,
            self.selection,
            self.objects,
            None,
            self.nonfinite,
            keys,
            self.cache_dir,
        )

    def _setup_stream(self) -> None:
        configs: dict[str, StreamConfig] = {}
        if self.files is not None:
            paths = resolve_files(self.files)
            keys = self._key_branches(paths[0])
            configs = {name: self._stream_config(paths, i, keys) for i, name in enumerate(SPLIT_NAMES)}
        else:
            configs = {
                n: self._stream_config(resolve_files(f), None, ())
                for n, f in self.split_files.items()
                if f is not None
            }
        refit = (self.norm_fields and self.normalization is None) or (
            self.reweight_cfg and self.reweighter is None
        )
        if refit:  # one pass over the training stream
            moments, rw_parts = RunningMoments(self.norm_method, self.norm_clip), []
            for c in StreamingDataset(configs["train"], self.batch_size).chunks():
                cols = StreamingDataset(configs["train"], self.batch_size).read_chunk(*c)
                moments.update(cols, self.norm_fields)
                if self.reweight_cfg is not None:
                    rw_parts.append({k: np.asarray(cols[k]) for k in self._rw_fields()})
            if self.norm_fields:
                self.normalization = moments.finish()
            if self.reweight_cfg is not None:
                self.reweighter = self._fit_reweighter(
                    {k: np.concatenate([p[k] for p in rw_parts]) for k in self._rw_fields()}
                )
        for name, cfg in configs.items():
            train = name == "train"
            self.datasets[name] = StreamingDataset(
                cfg,
                self.batch_size if train else self.eval_batch_size,
                shuffle=train,
                seed=self.seed,
                hook=self._hook,
            )

    def _hook(self, columns: dict[str, Any]) -> dict[str, np.ndarray]:
        weight = self._weights(columns)
        extra = {k for k in columns if k not in self.specs or k not in self.fields}
        for k in extra:
            columns.pop(k)  # split-key branches are not batch fields
        return {"weight": weight}

    def record_entry_ids(self) -> None:
        """Training batches gain ``entry_id`` (file index << 40 | entry) from now on: a debug aid
        to check which entries each rank trains on."""
        self.setup()
        train = self.datasets["train"]
        if isinstance(train, StreamingDataset):
            train.entry_ids = True
        else:
            train.extra[ENTRY_ID] = entry_ids(train.table.file_id, train.table.entry)

    # ------------------------------------------------------------ weights
    def _rw_fields(self) -> list[str]:
        cfg = self.reweight_cfg or {}
        names = [cfg["pt"], cfg["label"]] + ([cfg["eta"]] if cfg.get("eta") else [])
        missing = [n for n in names if n not in self.specs]
        if missing:
            raise DataError(
                f"data.reweighting uses field {missing[0]!r}, which is not loaded; add it to data.fields"
            )
        return names

    def _fit_reweighter(self, cols: Mapping[str, np.ndarray]) -> Reweighter:
        cfg = dict(self.reweight_cfg or {})
        kwargs = {
            k: cfg[k] for k in ("signal_labels", "target", "pt_bins", "eta_bins", "class_weights") if k in cfg
        }
        eta = cols[cfg["eta"]] if cfg.get("eta") else None
        return Reweighter.fit(cols[cfg["pt"]], cols[cfg["label"]], eta, **kwargs)

    def _weights(self, columns: Mapping[str, Any]) -> np.ndarray:
        n = len(next(iter(columns.values())))
        weight = (
            np.asarray(columns["weight"], dtype=np.float32) if "weight" in columns else np.ones(n, np.float32)
        )
        if self.reweighter is not None:
            cfg = self.reweight_cfg or {}
            eta = np.asarray(columns[cfg["eta"]]) if cfg.get("eta") else None
            weight = weight * self.reweighter.weights(
                np.asarray(columns[cfg["pt"]]), np.asarray(columns[cfg["label"]]), eta
            )
        return weight

    def _batch_fields(self) -> list[str]:
        return [f for f in self.fields if f != "weight"]

    # -------------------------------------------------------- dataloaders
    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        # batches are flat dicts of tensors: one .to() each instead of Lightning's generic
        # collection walk (≈ 8 % of a small DNN's CPU step); nothing to move when already there
        if not isinstance(batch, dict) or not all(isinstance(v, torch.Tensor) for v in batch.values()):
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
        if all(v.device == device for v in batch.values()):
            return batch
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}

    def _loader(self, name: str) -> DataLoader:
        """Train and validation batches are sharded over DDP ranks (Lightning's distributed
        sampler must be off: ``Trainer(use_distributed_sampler=False)``); test batches are not:
        every rank sees the whole test split, so rank 0's predictions cover it exactly once."""
        self.setup()
        if name not in self.datasets:
            raise DataError(f"no {name} data: set data.{name}_files or data.files")
        dataset = self._on_device(name, self.datasets[name])
        train = name == "train"
        rank, world = self._rank_world() if name in ("train", "val") else (0, 1)
        host = not isinstance(dataset, ResidentDataset)
        common: dict[str, Any] = {
            "batch_size": None,
            "num_workers": self.num_workers if host else 0,  # workers cannot share device tensors
            "pin_memory": self.pin_memory and host,
            "persistent_workers": self.num_workers > 0 and host,
            # the datasets yield finished batches (dicts of tensors): no default_convert walk
            "collate_fn": batch_as_is,
            # the loader's base seed from its own generator: iterating never draws from the global RNG
            "generator": torch.Generator().manual_seed(self.seed),
        }
        cls = ResumableLoader if train else DataLoader
        if isinstance(dataset, StreamingDataset):
            dataset.rank, dataset.world_size = rank, world
            loader = cls(dataset, **common)
        else:
            sampler = BatchIndexSampler(
                len(dataset),
                self.batch_size if train else self.eval_batch_size,
                shuffle=train,
                seed=self.seed,
                rank=rank,
                world_size=world,
            )
            loader = cls(dataset, sampler=sampler, **common)
        if train:
            loader.progress = self._train_progress
        return loader

    def _on_device(self, name: str, dataset: Any) -> Any:
        """The split as a :class:`ResidentDataset` on the trainer's device where ``data.resident`` says."""
        if not isinstance(dataset, BatchedDataset):
            return dataset  # streaming: chunks are read as they come
        trainer = getattr(self, "trainer", None)
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        key = (name, str(device))
        cached = self._resident.get(key)
        if cached is not None and cached[0] is dataset:
            return cached[1]
        if not wants_resident(self.resident, dataset, device):
            return dataset
        self._resident[key] = (dataset, ResidentDataset(dataset, device))
        return self._resident[key][1]

    def _rank_world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def _train_progress(self) -> tuple[int, int, bool]:
        """(epoch, batches fully used in it, last batch reached) from the trainer's fit loop."""
        loop = self.trainer.fit_loop  # type: ignore[union-attr]
        batches = loop.epoch_loop.batch_progress
        return loop.epoch_progress.current.processed, batches.current.processed, bool(batches.is_last_batch)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")

    # --------------------------------------------------------- checkpoint
    def state_dict(self) -> dict[str, Any]:
        return {
            "normalization": None if self.normalization is None else self.normalization.to_dict(),
            "reweighting": None if self.reweighter is None else self.reweighter.to_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("normalization") is not None:
            self.normalization = Normalization.from_dict(state_dict["normalization"])
        if state_dict.get("reweighting") is not None:
            self.reweighter = Reweighter.from_dict(state_dict["reweighting"])
