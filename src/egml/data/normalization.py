"""Input normalisation per field, fitted on the training split only.

Statistics are one (centre, scale) pair per field over all its values (all pixels of an image, all
cells of a jagged field, padding excluded), stored under the keys ``mean``/``std``:

- ``standard``: mean and standard deviation;
- ``robust``: median and half the 16–84 % quantile width (= σ for a Gaussian), which heavy tails
  (d0 significance, E/p, isolation) do not inflate; the quantiles come from a bounded,
  deterministic subsample of the training values (every k-th value, k doubling as they grow).

An optional ``clip`` bounds the normalised value to [−clip, clip], so a far outlier cannot
saturate the first layer. They are checked to be finite with non-zero spread and serialise to a
plain dict for the checkpoint, so evaluation and export (the clamp is in the ONNX graph) reuse them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from egml.data.errors import DataError
from egml.data.store import Jagged, StoredColumn

NORMALIZE_METHODS = ("standard", "robust")
ROBUST_QUANTILES = (16.0, 50.0, 84.0)


def check_method(method: str, clip: float | None) -> None:
    if method not in NORMALIZE_METHODS:
        raise DataError(
            f"config key 'data.normalize_method' is {method!r}; expected one of {NORMALIZE_METHODS}"
        )
    if clip is not None and not (np.isfinite(clip) and clip > 0):
        raise DataError(f"config key 'data.normalize_clip' is {clip!r}; expected null or a positive number")


@dataclass
class RunningMoments:
    """Streaming sum / sum of squares in float64 (one pass over batches or chunks).

    With ``method="robust"`` it also keeps a bounded subsample of every field for its quantiles.
    """

    method: str = "standard"
    clip: float | None = None
    max_samples: int = 2_000_000  # per field: quantiles to ~1e-3 of the spread
    count: dict[str, float] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)
    total_sq: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[np.ndarray]] = field(default_factory=dict)
    stride: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_method(self.method, self.clip)

    def _keep(self, name: str, values: np.ndarray) -> None:
        """Every ``stride``-th value; when the kept values outgrow the cap, halve them and the rate."""
        step = self.stride.setdefault(name, 1)
        parts = self.samples.setdefault(name, [])
        parts.append(values[::step].astype(np.float32))
        if sum(p.size for p in parts) > self.max_samples:
            self.samples[name] = [np.concatenate(parts)[::2]]
            self.stride[name] = 2 * step

    def update(self, columns: Mapping[str, StoredColumn], fields: Iterable[str]) -> None:
        for name in fields:
            column = columns[name]
            values = column.content if isinstance(column, Jagged) else column
            values = np.asarray(values, dtype=np.float64).ravel()
            self.count[name] = self.count.get(name, 0.0) + values.size
            self.total[name] = self.total.get(name, 0.0) + float(values.sum())
            self.total_sq[name] = self.total_sq.get(name, 0.0) + float(np.square(values).sum())
            if self.method == "robust":
                self._keep(name, values)

    def finish(self) -> Normalization:
        stats: dict[str, tuple[float, float]] = {}
        for name, n in self.count.items():
            if n == 0:
                raise DataError(
                    f"normalisation field {name!r} has no values in the training split; expected some"
                )
            mean = self.total[name] / n
            std = float(np.sqrt(max(self.total_sq[name] / n - mean * mean, 0.0)))
            if self.method == "robust":
                lo, median, hi = np.percentile(np.concatenate(self.samples[name]), ROBUST_QUANTILES)
                half_width = float(hi - lo) / 2
                # a field that is mostly one value (zero-suppressed pixels, hit counts) has no
                # quantile width: fall back to its standard deviation
                mean, std = float(median), half_width if half_width > 1e-12 * max(1.0, abs(median)) else std
            stats[name] = (mean, std)
        return Normalization(stats, self.clip)


@dataclass
class Normalization:
    """``(x - mean) / std`` per field (clamped to ±``clip`` if set); ``to_dict``/``from_dict`` for checkpoints."""

    stats: dict[str, tuple[float, float]]
    clip: float | None = None

    def __post_init__(self) -> None:
        for name, (mean, std) in self.stats.items():
            if not (np.isfinite(mean) and np.isfinite(std)):
                raise DataError(
                    f"normalisation of field {name!r}: mean={mean}, std={std}; expected finite values"
                )
            if std <= 1e-12 * max(1.0, abs(mean)):
                raise DataError(
                    f"normalisation of field {name!r}: std={std} (constant field); expected non-zero spread "
                    "(drop the field from normalization or fix the branch map)"
                )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        extra = {} if self.clip is None else {"clip": float(self.clip)}
        return {k: {"mean": float(m), "std": float(s), **extra} for k, (m, s) in self.stats.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, float]]) -> Normalization:
        clips = {float(v["clip"]) for v in data.values() if v.get("clip") is not None}
        return cls(
            {k: (float(v["mean"]), float(v["std"])) for k, v in data.items()}, clips.pop() if clips else None
        )

    def apply(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Normalised copy of ``batch`` (float32); padded slots of jagged fields stay 0."""
        out = dict(batch)
        for name, (mean, std) in self.stats.items():
            x = (batch[name].to(torch.float32) - mean) / std
            if self.clip is not None:
                x = x.clamp(-self.clip, self.clip)
            mask = batch.get(name + "_mask")
            if mask is not None:
                x = x * mask.reshape(mask.shape + (1,) * (x.dim() - mask.dim())).to(x.dtype)
            out[name] = x
        return out


def fit_normalization(
    columns: Mapping[str, StoredColumn],
    fields: Iterable[str],
    rows: np.ndarray | None = None,
    method: str = "standard",
    clip: float | None = None,
) -> Normalization:
    """Centre/scale of ``fields`` over rows ``rows`` (the training split) of stored columns."""
    from egml.data.store import take_rows

    moments = RunningMoments(method, clip)
    fields = list(fields)
    missing = [f for f in fields if f not in columns]
    if missing:
        raise DataError(
            f"normalisation field {missing[0]!r} is not a loaded field; loaded: {sorted(columns)}"
        )
    selected = {f: columns[f] if rows is None else take_rows(columns[f], rows) for f in fields}
    moments.update(selected, fields)
    return moments.finish()
