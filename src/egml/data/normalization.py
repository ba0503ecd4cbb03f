"""Input normalisation: mean and standard deviation per field, fitted on the training split only.

Statistics are one (mean, std) pair per field over all its values (all pixels of an image, all
cells of a jagged field, padding excluded). They are checked to be finite with non-zero spread and
serialise to a plain dict for the checkpoint, so evaluation and export reuse the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from egml.data.errors import DataError
from egml.data.store import Jagged, StoredColumn


@dataclass
class RunningMoments:
    """Streaming sum / sum of squares in float64 (one pass over batches or chunks)."""

    count: dict[str, float] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)
    total_sq: dict[str, float] = field(default_factory=dict)

    def update(self, columns: Mapping[str, StoredColumn], fields: Iterable[str]) -> None:
        for name in fields:
            column = columns[name]
            values = column.content if isinstance(column, Jagged) else column
            values = np.asarray(values, dtype=np.float64).ravel()
            self.count[name] = self.count.get(name, 0.0) + values.size
            self.total[name] = self.total.get(name, 0.0) + float(values.sum())
            self.total_sq[name] = self.total_sq.get(name, 0.0) + float(np.square(values).sum())

    def finish(self) -> Normalization:
        stats: dict[str, tuple[float, float]] = {}
        for name, n in self.count.items():
            if n == 0:
                raise DataError(
                    f"normalisation field {name!r} has no values in the training split; expected some"
                )
            mean = self.total[name] / n
            var = max(self.total_sq[name] / n - mean * mean, 0.0)
            stats[name] = (mean, float(np.sqrt(var)))
        return Normalization(stats)


@dataclass
class Normalization:
    """``(x - mean) / std`` per field; ``to_dict``/``from_dict`` for checkpoints."""

    stats: dict[str, tuple[float, float]]

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

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {k: {"mean": float(m), "std": float(s)} for k, (m, s) in self.stats.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, float]]) -> Normalization:
        return cls({k: (float(v["mean"]), float(v["std"])) for k, v in data.items()})

    def apply(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Normalised copy of ``batch`` (float32); padded slots of jagged fields stay 0."""
        out = dict(batch)
        for name, (mean, std) in self.stats.items():
            x = (batch[name].to(torch.float32) - mean) / std
            mask = batch.get(name + "_mask")
            if mask is not None:
                x = x * mask.reshape(mask.shape + (1,) * (x.dim() - mask.dim())).to(x.dtype)
            out[name] = x
        return out


def fit_normalization(
    columns: Mapping[str, StoredColumn], fields: Iterable[str], rows: np.ndarray | None = None
) -> Normalization:
    """Mean/std of ``fields`` over rows ``rows`` (the training split) of stored columns."""
    from egml.data.store import take_rows

    moments = RunningMoments()
    fields = list(fields)
    missing = [f for f in fields if f not in columns]
    if missing:
        raise DataError(
            f"normalisation field {missing[0]!r} is not a loaded field; loaded: {sorted(columns)}"
        )
    selected = {f: columns[f] if rows is None else take_rows(columns[f], rows) for f in fields}
    moments.update(selected, fields)
    return moments.finish()
