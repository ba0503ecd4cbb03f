"""Energy response and resolution figures of merit (reference 003; PHYSICS.md §5 "Figures of merit").

For a ratio r = E_pred/E_true (or E_reco/E_truth), with optional per-entry weights:

* ``median_response``: weighted median of r;
* ``iqr_resolution``: σ_IQR = (Q75 − Q25) / (1.349 · ⟨r⟩), ⟨r⟩ the weighted mean (reference 003:
  "IQR / (1.349 ⟨E_reco/E_truth⟩)", equal to σ/μ for a normal distribution);
* ``sigma_eff``: half-width of the smallest interval holding 68.3 % of the (weighted) entries,
  divided by the median response (PHYSICS.md §5); ``normalise=False`` gives the bare half-width.

Weighted quantiles generalise NumPy's default ('linear', type 7) definition: the k-th sorted
entry sits at cumulative position (S_k − w_k)/(W − w_last), which is k/(n − 1) for equal weights,
so unit weights reproduce ``np.percentile`` exactly. Zero-weight entries are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from egml.evaluation.binning import bin_index, check_edges

IQR_TO_SIGMA = 1.349  # Q75 − Q25 of a unit normal = 2·Φ⁻¹(0.75) = 1.3490 (reference 003)
SIGMA_EFF_FRACTION = 0.683  # one-sigma content of a normal distribution (PHYSICS.md §5)


def _prepare(ratio: ArrayLike, weights: ArrayLike | None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r = np.asarray(ratio, dtype=np.float64).ravel()
    w = np.ones_like(r) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if r.shape != w.shape:
        raise ValueError(f"ratio {r.shape} and weights {w.shape}: expected equal lengths")
    if not np.all(np.isfinite(r)) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("ratio/weights contain NaN, inf or negative weights; expected finite, w >= 0")
    keep = w > 0
    if keep.sum() < 2:
        raise ValueError(f"{int(keep.sum())} entries with positive weight; expected at least 2")
    order = np.argsort(r[keep], kind="stable")
    return r[keep][order], w[keep][order]


def weighted_quantile(
    values: ArrayLike, q: ArrayLike, weights: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Quantiles ``q`` ∈ [0, 1]; identical to ``np.quantile`` for unit weights (see module docstring)."""
    x, w = _prepare(values, weights)
    cum = np.cumsum(w)
    position = (cum - w) / (cum[-1] - w[-1])
    return np.interp(np.asarray(q, dtype=np.float64), position, x)


def median_response(ratio: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Weighted median of the response."""
    return float(weighted_quantile(ratio, 0.5, weights))


def mean_response(ratio: ArrayLike, weights: ArrayLike | None = None) -> float:
    x, w = _prepare(ratio, weights)
    return float(np.average(x, weights=w))


def iqr_resolution(ratio: ArrayLike, weights: ArrayLike | None = None) -> float:
    """σ_IQR = IQR / (1.349 · mean(ratio)) (reference 003)."""
    q25, q75 = weighted_quantile(ratio, [0.25, 0.75], weights)
    return float((q75 - q25) / (IQR_TO_SIGMA * mean_response(ratio, weights)))


def sigma_eff(
    ratio: ArrayLike,
    weights: ArrayLike | None = None,
    fraction: float = SIGMA_EFF_FRACTION,
    normalise: bool = True,
) -> float:
    """Half-width of the smallest interval holding ``fraction`` of the weight (÷ median if ``normalise``)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"sigma_eff fraction {fraction}; expected 0 < fraction < 1")
    x, w = _prepare(ratio, weights)
    cum = np.cumsum(w)
    start_cum = cum - w  # weight strictly below entry i
    end = np.searchsorted(cum, start_cum + fraction * cum[-1] * (1 - 1e-12), side="left")
    valid = end < x.size
    widths = x[end[valid]] - x[np.flatnonzero(valid)]
    half = 0.5 * float(widths.min())
    return half / median_response(x, w) if normalise else half


def resolution_summary(ratio: ArrayLike, weights: ArrayLike | None = None) -> dict[str, float]:
    """All figures of merit of one population: n, sum_w, median/mean response, σ_IQR, σ_eff."""
    x, w = _prepare(ratio, weights)
    return {
        "n": int(x.size),
        "sum_w": float(w.sum()),
        "median_response": median_response(x, w),
        "mean_response": mean_response(x, w),
        "iqr_resolution": iqr_resolution(x, w),
        "sigma_eff": sigma_eff(x, w),
    }


def binned_resolution(
    ratio: ArrayLike,
    variables: Mapping[str, ArrayLike],
    bin_edges: Mapping[str, Sequence[float]],
    weights: ArrayLike | None = None,
    min_entries: int = 2,
) -> list[dict[str, float]]:
    """:func:`resolution_summary` in every bin of a grid (e.g. E × |η| × particle type).

    Entries outside the grid are ignored. Each row holds ``<var>_low``, ``<var>_high`` for every
    bin variable and the summary; bins with fewer than ``min_entries`` entries have only ``n``.
    """
    check_edges(bin_edges)
    r = np.asarray(ratio, dtype=np.float64).ravel()
    w = np.ones_like(r) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    index = bin_index(variables, bin_edges, clip=False)
    shape = tuple(len(e) - 1 for e in bin_edges.values())
    order = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[order], np.arange(int(np.prod(shape)) + 1))
    rows = []
    for flat, cell in enumerate(np.ndindex(*shape)):  # loop over bins only
        row: dict[str, float] = {}
        for (name, edges), i in zip(bin_edges.items(), cell):
            row[f"{name}_low"], row[f"{name}_high"] = float(edges[i]), float(edges[i + 1])
        sel = order[starts[flat] : starts[flat + 1]]
        sel = sel[w[sel] > 0]
        row["n"] = int(sel.size)
        if sel.size >= max(min_entries, 2):
            row.update(resolution_summary(r[sel], w[sel]))
        rows.append(row)
    return rows
