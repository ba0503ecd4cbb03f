"""Smoothed 1-D PDFs per kinematic bin, the building block of the electron likelihood (PHYSICS.md §3).

For one variable, signal and background are histogrammed in a common binning (uniform between
the 0.5 % and 99.5 % quantiles of the training rows; values outside go to the edge bins) per
(E_T, |η|) cell. Each histogram is smoothed with a Gaussian kernel along the variable axis (the
"histogram with KDE smoothing" of the ATLAS tool) and then shrunk towards the PDF of its |η| row
(all E_T together), which is itself shrunk towards the inclusive PDF: a cell with few entries
borrows shape from its neighbours instead of producing empty bins. Everything is per-bin counts
and ``np.bincount``; the only loops are over the handful of hierarchy levels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

F64 = np.float64
QUANTILE_RANGE = (0.005, 0.995)  # binning range of each variable, from the training rows
PDF_FLOOR = 1e-6  # probability per bin added before normalising: no log(0) anywhere


def variable_edges(values: NDArray, n_bins: int) -> NDArray[np.float64]:
    """Uniform edges between the 0.5 % and 99.5 % quantiles of ``values`` (finite only)."""
    if n_bins < 2:
        raise ValueError(f"likelihood n_bins={n_bins}; expected >= 2")
    x = np.asarray(values, dtype=F64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("likelihood variable has no finite training values; expected some")
    lo, hi = np.quantile(x, QUANTILE_RANGE)
    if not hi > lo:  # (nearly) constant variable: a small symmetric window
        half = max(abs(lo) * 1e-3, 1e-6)
        lo, hi = lo - half, hi + half
    return np.linspace(lo, hi, n_bins + 1)


def value_bin(values: NDArray, edges: NDArray) -> NDArray[np.int64]:
    """Histogram bin of every value, out-of-range (and NaN) values clipped to the edge bins."""
    x = np.nan_to_num(np.asarray(values, dtype=F64), nan=edges[0])
    return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2).astype(np.int64)


def smoothed_pdf(
    value_index: NDArray[np.int64],
    et_index: NDArray[np.int64],
    eta_index: NDArray[np.int64],
    weights: NDArray,
    n_bins: int,
    n_et: int,
    n_eta: int,
    smoothing: float,
    prior_strength: float,
) -> NDArray[np.float64]:
    """Probability per value bin, shape ``(n_et, n_eta, n_bins)``, for the rows given.

    ``weights`` should sum to about the number of rows so that ``prior_strength`` is in units of
    entries: a cell with n ≫ prior_strength entries keeps its own shape.
    """
    w = np.asarray(weights, dtype=F64)
    cell = (et_index * n_eta + eta_index) * n_bins + value_index
    counts = np.bincount(cell, weights=w, minlength=n_et * n_eta * n_bins).reshape(n_et, n_eta, n_bins)
    if smoothing > 0:
        counts = gaussian_filter1d(counts, smoothing, axis=-1, mode="nearest")
    inclusive = counts.sum(axis=(0, 1))
    inclusive = (inclusive + PDF_FLOOR * max(inclusive.sum(), 1.0)) / (
        inclusive.sum() + n_bins * PDF_FLOOR * max(inclusive.sum(), 1.0)
    )
    row = counts.sum(axis=0)  # (n_eta, n_bins): one |η| bin, all E_T
    row_pdf = (row + prior_strength * inclusive) / (row.sum(-1, keepdims=True) + prior_strength)
    cell_pdf = (counts + prior_strength * row_pdf[None]) / (counts.sum(-1, keepdims=True) + prior_strength)
    return cell_pdf / cell_pdf.sum(-1, keepdims=True)
