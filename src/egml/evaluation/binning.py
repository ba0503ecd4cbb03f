"""Flat bin indices over a grid of bin variables (shared by working points and binned metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray


def bin_values(variables: Mapping[str, ArrayLike], name: str) -> NDArray[np.float64]:
    """Values of bin variable ``name``; ``abs_X`` is read as ``|X|`` when only ``X`` is given."""
    if name in variables:
        values = np.asarray(variables[name], dtype=np.float64).ravel()
    elif name.startswith("abs_") and name[4:] in variables:
        values = np.abs(np.asarray(variables[name[4:]], dtype=np.float64).ravel())
    else:
        raise ValueError(f"bin variable {name!r} missing; got {sorted(variables)}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"bin variable {name!r} has NaN/inf values; expected finite")
    return values


def check_edges(bin_edges: Mapping[str, Sequence[float]]) -> None:
    for var, edges in bin_edges.items():
        if len(edges) < 2 or np.any(np.diff(np.asarray(edges, dtype=np.float64)) <= 0):
            raise ValueError(f"bin edges of {var!r} = {list(edges)}; expected >= 2 increasing values")


def bin_index(
    variables: Mapping[str, ArrayLike], bin_edges: Mapping[str, Sequence[float]], clip: bool
) -> NDArray[np.int64]:
    """Flat C-order index into the grid of ``bin_edges`` (at least one variable).

    ``clip=True`` puts out-of-range values into the edge bins; ``clip=False`` gives −1 for an
    entry outside the grid in any variable. Bins are [low, high).
    """
    index: NDArray[np.int64] | None = None
    outside: NDArray[np.bool_] | None = None
    for name, edges in bin_edges.items():
        e = np.asarray(edges, dtype=np.float64)
        n_bins = e.size - 1
        values = bin_values(variables, name)
        raw = np.searchsorted(e, values, side="right") - 1
        out = (raw < 0) | (raw >= n_bins)
        i = np.clip(raw, 0, n_bins - 1)
        index = i if index is None else index * n_bins + i
        outside = out if outside is None else outside | out
    if index is None or outside is None:
        raise ValueError("bin_index needs at least one bin variable")
    if not clip:
        index = np.where(outside, -1, index)
    return index.astype(np.int64)
