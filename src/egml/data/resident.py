"""Device-resident batches: a split's columns held as torch tensors on the training device.

With the split on the GPU a batch is one ``index_select`` per field there: no host gather, no
host-to-device copy, no pinned staging. Jagged fields keep their (offsets, content) form on the
device and are padded per batch exactly as :func:`egml.data.batching.gather_batch` pads them, so
a resident batch equals the host batch field by field (a test checks it).

``data.resident``: ``auto`` (the default) holds a split on a CUDA device when it takes less than
:data:`MAX_FREE_FRACTION` of the free device memory, ``on`` always (also on the CPU, where it
only saves the NumPy → torch step), ``off`` never.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from egml.data.batching import MASK_SUFFIX, to_tensor
from egml.data.datasets import BatchedDataset
from egml.data.errors import DataError
from egml.data.store import Jagged, take_rows

RESIDENT_MODES = ("auto", "on", "off")
MAX_FREE_FRACTION = 0.5  # of the free device memory: the rest is for the model and activations
log = logging.getLogger(__name__)


def check_resident(mode: str) -> None:
    if mode not in RESIDENT_MODES:
        raise DataError(f"config key 'data.resident' is {mode!r}; expected one of {RESIDENT_MODES}")


def split_bytes(source: BatchedDataset) -> int:
    """Bytes the split's rows of every batch field take (an estimate from the stored columns)."""
    n_rows, total = len(source.rows), 0
    for column in _columns(source).values():
        if isinstance(column, Jagged):
            total += column.content.nbytes * n_rows // max(len(column), 1) + 8 * (n_rows + 1)
        else:
            total += column.nbytes * n_rows // max(len(column), 1)
    return total


def wants_resident(mode: str, source: BatchedDataset, device: torch.device) -> bool:
    check_resident(mode)
    if mode != "auto":
        return mode == "on"
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    need = split_bytes(source)
    if need > MAX_FREE_FRACTION * free:
        log.info("data.resident=auto: split of %.0f MB does not fit in %.0f MB free; gathering on the host",
                 need / 1e6, free / 1e6)  # fmt: skip
        return False
    return True


def _columns(source: BatchedDataset) -> dict[str, Any]:
    return {k: source.table.columns[k] for k in source.fields} | source.extra


class ResidentDataset(Dataset):
    """The rows of a :class:`BatchedDataset` on ``device``; ``dataset[positions]`` is one batch."""

    def __init__(self, source: BatchedDataset, device: torch.device) -> None:
        self.device, self.pad = device, dict(source.pad)
        self.n = len(source.rows)
        self.fixed: dict[str, Tensor] = {}
        self.jagged: dict[str, tuple[Tensor, Tensor]] = {}
        for name, column in _columns(source).items():
            part = take_rows(column, source.rows)
            if isinstance(part, Jagged):
                self.jagged[name] = (
                    torch.from_numpy(part.offsets).to(device),
                    to_tensor(np.asarray(part.content)).to(device),
                )
            else:
                self.fixed[name] = to_tensor(np.asarray(part)).to(device)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, positions: np.ndarray) -> dict[str, Tensor]:
        # sorted as the host path sorts its rows, so both give the same batch order
        index = torch.from_numpy(np.sort(np.asarray(positions, dtype=np.int64))).to(self.device)
        out = {name: values.index_select(0, index) for name, values in self.fixed.items()}
        for name, (offsets, content) in self.jagged.items():
            values, mask = _gather_jagged(offsets, content, index, self.pad.get(name, 0.0))
            out[name], out[name + MASK_SUFFIX] = values, mask
        return out


def _gather_jagged(offsets: Tensor, content: Tensor, index: Tensor, pad: float) -> tuple[Tensor, Tensor]:
    starts = offsets.index_select(0, index)
    lengths = offsets.index_select(0, index + 1) - starts
    width = int(lengths.max()) if len(index) else 0  # one scalar read per batch
    slot = torch.arange(width, device=offsets.device)
    mask = slot[None, :] < lengths[:, None]
    flat = torch.where(mask, starts[:, None] + slot[None, :], torch.zeros_like(starts)[:, None])
    inner = content.shape[1:]
    if content.shape[0] == 0:
        return torch.full((len(index), width, *inner), pad, dtype=content.dtype, device=content.device), mask
    values = content.index_select(0, flat.reshape(-1)).reshape(len(index), width, *inner)
    keep = mask.reshape(mask.shape + (1,) * len(inner))
    return torch.where(keep, values, torch.full_like(values, pad)), mask
