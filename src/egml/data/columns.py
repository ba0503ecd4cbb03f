"""Turning raw branch arrays into canonical field columns (scale, default, reshape, checks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np
import uproot

from egml.data.branch_map import FieldSpec
from egml.data.errors import DataError
from egml.data.expression import parse_expression

Column = np.ndarray | ak.Array


def read_branches(tree: Any, branches: Sequence[str], entry_start: int, entry_stop: int) -> dict[str, Column]:
    """Fixed-shape branches as NumPy ``(N, *inner)``; jagged / std::vector branches as awkward."""
    fixed = [b for b in branches if isinstance(tree[b].interpretation, uproot.AsDtype)]
    jagged = [b for b in branches if b not in fixed]
    out: dict[str, Column] = {}
    if fixed:
        out.update(tree.arrays(fixed, entry_start=entry_start, entry_stop=entry_stop, library="np", how=dict))
    if jagged:
        arrays = tree.arrays(jagged, entry_start=entry_start, entry_stop=entry_stop, library="ak")
        out.update({b: arrays[b] for b in jagged})
    # on-disk byte order is big-endian; torch needs native order: swap in place when allowed
    return {b: _native(v) if isinstance(v, np.ndarray) else v for b, v in out.items()}


def _native(array: np.ndarray) -> np.ndarray:
    if array.dtype.isnative:
        return array
    if array.flags.writeable and array.flags.owndata:
        return array.byteswap(inplace=True).view(array.dtype.newbyteorder("="))
    return array.astype(array.dtype.newbyteorder("="))


def evaluate_field(spec: FieldSpec, raw: dict[str, Column]) -> Column:
    """Branch or expression value with ``scale`` and the NaN ``default`` applied (per event)."""
    value = raw[spec.branch] if spec.branch is not None else parse_expression(spec.expr or "").evaluate(raw)
    if isinstance(value, bool | int | float):
        raise DataError(
            f"field {spec.name!r}: expression {spec.expr!r} is a constant; expected it to read a branch"
        )
    if spec.scale is not None:
        value = value * spec.scale
    if spec.default is not None and _is_float(value):
        value = _where_nan(value, spec.default)
    return value


def finish_field(spec: FieldSpec, value: Column, where: str) -> Column:
    """Per-candidate reshape / transpose / shape check / dtype cast of one field."""
    target = spec.reshape or spec.shape
    if isinstance(value, ak.Array):
        value = regular_to_numpy(value)
    if isinstance(value, ak.Array) and target is not None:
        value = _jagged_to_fixed(spec, value, int(np.prod(target)), where)
    if isinstance(value, np.ndarray) and spec.reshape is not None:
        inner = int(np.prod(value.shape[1:]))
        if inner != int(np.prod(spec.reshape)):
            raise DataError(
                f"{where}: field {spec.name!r} has {inner} values per entry (shape {value.shape[1:]}); "
                f"reshape {list(spec.reshape)} needs {int(np.prod(spec.reshape))}"
            )
        value = value.reshape((len(value), *spec.reshape))
    if spec.transpose is not None:
        if not isinstance(value, np.ndarray) or value.ndim - 1 != len(spec.transpose):
            raise DataError(
                f"{where}: field {spec.name!r} cannot be transposed by {list(spec.transpose)}; "
                f"expected a fixed array with {len(spec.transpose)} axes per entry"
            )
        value = np.ascontiguousarray(value.transpose((0, *(a + 1 for a in spec.transpose))))
    if spec.shape is not None:
        if isinstance(value, ak.Array):
            raise DataError(
                f"{where}: field {spec.name!r} is jagged (variable length per entry); expected fixed shape {list(spec.shape)}"
            )
        if tuple(value.shape[1:]) != spec.shape:
            raise DataError(
                f"{where}: field {spec.name!r} has shape {list(value.shape[1:])} per entry; expected {list(spec.shape)}"
            )
    if spec.dtype is not None:
        value = (
            value.astype(spec.dtype) if isinstance(value, np.ndarray) else ak.values_astype(value, spec.dtype)
        )
    return value


def regular_to_numpy(value: ak.Array) -> Column:
    """An awkward array with no variable-length axis as NumPy; jagged arrays are returned as is."""
    if "var" in str(value.type) or "?" in str(value.type):
        return value
    return ak.to_numpy(value)


def _jagged_to_fixed(spec: FieldSpec, value: ak.Array, size: int, where: str) -> Column:
    counts = ak.to_numpy(ak.num(value, axis=1))
    bad = np.flatnonzero(counts != size)
    if bad.size:
        raise DataError(
            f"{where}: field {spec.name!r} is jagged ({counts[bad[0]]} values in entry {bad[0]}); "
            f"expected fixed shape {list(spec.reshape or spec.shape or ())} ({size} values per entry)"
        )
    flat = ak.to_numpy(ak.flatten(value, axis=1))
    return flat.reshape((len(counts), *(spec.reshape or spec.shape or ())))


def _is_float(value: Column) -> bool:
    dtype = value.dtype if isinstance(value, np.ndarray) else _ak_dtype(value)
    return dtype is not None and np.issubdtype(dtype, np.floating)


def _ak_dtype(value: ak.Array) -> np.dtype | None:
    try:
        return ak.to_numpy(ak.ravel(value[:0])).dtype
    except Exception:  # records or other non-numeric layouts
        return None


def _where_nan(value: Column, default: float) -> Column:
    if isinstance(value, np.ndarray):
        return np.where(np.isnan(value), value.dtype.type(default), value)
    dtype = _ak_dtype(value)
    return ak.where(np.isnan(value), dtype.type(default) if dtype is not None else default, value)


def nonfinite_rows(value: Column) -> np.ndarray:
    """Boolean per entry: does the entry hold any NaN or ±inf (floats only)."""
    if not _is_float(value):
        return np.zeros(len(value), dtype=bool)
    if isinstance(value, np.ndarray):
        bad = ~np.isfinite(value)
        return bad.reshape(len(value), -1).any(axis=1) if value.ndim > 1 else bad
    bad = ~np.isfinite(value)
    while bad.ndim > 1:
        bad = ak.any(bad, axis=-1)
    return ak.to_numpy(ak.fill_none(bad, False))
