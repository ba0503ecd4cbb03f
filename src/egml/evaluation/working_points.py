"""Working points: score thresholds per kinematic bin, fitted once, saved as JSON, applied anywhere.

A :class:`WorkingPointMap` holds one threshold per cell of a grid of bin variables (e.g. E_T × |η|
× conversion). It is fitted either to a target **signal efficiency** (threshold = weighted
quantile of the signal scores in the bin) or to a target **background rejection** (threshold =
weighted quantile of the background scores at ε_B = 1/R). An entry passes when
``score >= threshold`` (the convention of :mod:`egml.evaluation.roc`).

* Values outside the bin edges are assigned to the first/last bin (clipped), so the map covers
  every entry an analysis may apply it to.
* Bins with fewer than ``min_entries`` fitting entries take the inclusive threshold and are
  flagged ``fallback`` in the file.
* A bin variable named ``abs_X`` is read as ``|X|`` when the dict holds ``X`` but not ``abs_X``.
* JSON has no infinity: a threshold that no entry can pass (+inf) is stored as ``null``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from egml.atomic import atomic_write_json
from egml.evaluation.binning import bin_index, check_edges
from egml.evaluation.roc import (
    binomial_efficiency,
    threshold_at_background_efficiency,
    threshold_at_efficiency,
)

FILE_FORMAT = "egml-working-points"
FILE_VERSION = 1
TARGET_KINDS = ("signal_efficiency", "background_rejection")


@dataclass
class WorkingPointMap:
    """Thresholds on one score in a grid of bins; see the module docstring."""

    name: str
    score: str
    target_kind: str
    target: float
    bin_variables: tuple[str, ...]
    bin_edges: tuple[tuple[float, ...], ...]
    thresholds: NDArray[np.float64]
    inclusive_threshold: float
    n_fit: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    fallback: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(e) - 1 for e in self.bin_edges)

    def bin_index(self, variables: Mapping[str, ArrayLike], n: int | None = None) -> NDArray[np.int64]:
        """Flat (C-order) bin index of every entry, clipping out-of-range values to the edge bins.

        ``n`` (the number of entries) is needed only for a map without bin variables.
        """
        if not self.bin_variables:
            if n is None:
                raise ValueError("bin_index of an inclusive working point needs the number of entries n")
            return np.zeros(n, np.int64)
        return bin_index(variables, dict(zip(self.bin_variables, self.bin_edges)), clip=True)

    def thresholds_for(self, variables: Mapping[str, ArrayLike], n: int | None = None) -> NDArray[np.float64]:
        """Threshold that applies to every entry."""
        return np.asarray(self.thresholds, dtype=np.float64).ravel()[self.bin_index(variables, n)]

    def apply(self, scores: ArrayLike, variables: Mapping[str, ArrayLike]) -> NDArray[np.bool_]:
        """Pass/fail decision of every entry (vectorised)."""
        s = np.asarray(scores, dtype=np.float64).ravel()
        return s >= self.thresholds_for(variables, s.size)

    def to_dict(self) -> dict:
        def enc(a: NDArray) -> list:
            arr = np.asarray(a, dtype=np.float64)
            out = arr.astype(object)
            out[np.isposinf(arr)] = None
            return out.tolist()

        return {
            "name": self.name,
            "score": self.score,
            "target_kind": self.target_kind,
            "target": float(self.target),
            "bins": [{"variable": v, "edges": list(e)} for v, e in zip(self.bin_variables, self.bin_edges)],
            "thresholds": enc(self.thresholds),
            "inclusive_threshold": None
            if np.isposinf(self.inclusive_threshold)
            else self.inclusive_threshold,
            "n_fit": np.asarray(self.n_fit).tolist(),
            "fallback": np.asarray(self.fallback).tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> WorkingPointMap:
        def dec(x: object) -> NDArray[np.float64]:
            arr = np.array(x, dtype=np.float64)  # null -> nan
            return np.where(np.isnan(arr), np.inf, arr)

        inclusive = d["inclusive_threshold"]
        return cls(
            name=d["name"],
            score=d["score"],
            target_kind=d["target_kind"],
            target=float(d["target"]),
            bin_variables=tuple(b["variable"] for b in d["bins"]),
            bin_edges=tuple(tuple(float(x) for x in b["edges"]) for b in d["bins"]),
            thresholds=dec(d["thresholds"]),
            inclusive_threshold=float("inf") if inclusive is None else float(inclusive),
            n_fit=np.asarray(d.get("n_fit", []), dtype=np.int64),
            fallback=np.asarray(d.get("fallback", []), dtype=bool),
        )


def fit_working_point(
    scores: ArrayLike,
    is_signal: ArrayLike,
    variables: Mapping[str, ArrayLike],
    bin_edges: Mapping[str, Sequence[float]],
    target: float,
    target_kind: str = "signal_efficiency",
    weights: ArrayLike | None = None,
    min_entries: int = 100,
    name: str = "wp",
    score: str = "score",
) -> WorkingPointMap:
    """Fit thresholds per bin to a target signal efficiency or background rejection.

    ``bin_edges`` maps each bin variable to its increasing edges (an empty mapping gives one
    inclusive bin). ``target`` is ε_S for ``"signal_efficiency"`` and R = 1/ε_B for
    ``"background_rejection"``.
    """
    if target_kind not in TARGET_KINDS:
        raise ValueError(f"target_kind={target_kind!r}; expected one of {TARGET_KINDS}")
    s = np.asarray(scores, dtype=np.float64).ravel()
    sig = np.asarray(is_signal).astype(bool).ravel()
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (s.shape == sig.shape == w.shape):
        raise ValueError(
            f"scores {s.shape}, is_signal {sig.shape}, weights {w.shape}: expected equal lengths"
        )
    check_edges(bin_edges)
    use = sig if target_kind == "signal_efficiency" else ~sig

    def threshold(rows: NDArray[np.int64]) -> float:
        if target_kind == "signal_efficiency":
            return threshold_at_efficiency(s[rows], target, w[rows])
        if target < 1.0:
            raise ValueError(f"target background rejection {target}; expected >= 1")
        return threshold_at_background_efficiency(s[rows], 1.0 / target, w[rows])

    if not np.any(use):
        raise ValueError(
            f"no {'signal' if target_kind == 'signal_efficiency' else 'background'} entries to fit"
        )
    wp = WorkingPointMap(
        name=name,
        score=score,
        target_kind=target_kind,
        target=float(target),
        bin_variables=tuple(bin_edges),
        bin_edges=tuple(tuple(float(x) for x in e) for e in bin_edges.values()),
        thresholds=np.zeros(0),
        inclusive_threshold=threshold(np.flatnonzero(use)),
    )
    n_bins = int(np.prod(wp.shape)) if wp.shape else 1
    index = wp.bin_index(variables, s.size)
    n_fit = np.bincount(index[use], minlength=n_bins)
    thresholds = np.full(n_bins, wp.inclusive_threshold)
    fallback = n_fit < min_entries
    order = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[order], np.arange(n_bins + 1))
    for b in np.flatnonzero(~fallback):  # loop over bins only
        rows = order[starts[b] : starts[b + 1]]
        thresholds[b] = threshold(rows[use[rows]])
    wp.thresholds = thresholds.reshape(wp.shape)
    wp.n_fit = n_fit.reshape(wp.shape)
    wp.fallback = fallback.reshape(wp.shape)
    return wp


def efficiency_per_bin(
    wp: WorkingPointMap,
    scores: ArrayLike,
    variables: Mapping[str, ArrayLike],
    weights: ArrayLike | None = None,
) -> dict[str, NDArray]:
    """Weighted pass fraction per bin of ``wp`` for the given entries: ``efficiency, error, n``."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    passed = wp.apply(s, variables)
    index = wp.bin_index(variables, s.size)
    n_bins = int(np.prod(wp.shape)) if wp.shape else 1
    eff = np.full(n_bins, np.nan)
    err = np.full(n_bins, np.nan)
    for b in range(n_bins):
        sel = index == b
        eff[b], err[b] = binomial_efficiency(passed[sel], w[sel])
    return {
        "efficiency": eff.reshape(wp.shape),
        "error": err.reshape(wp.shape),
        "n": np.bincount(index, minlength=n_bins).reshape(wp.shape),
    }


def save_working_points(
    path: str | os.PathLike, maps: Mapping[str, WorkingPointMap], metadata: Mapping | None = None
) -> None:
    """Write several maps (e.g. loose/medium/tight) to one JSON file atomically (temp file + rename)."""
    path = Path(path)
    payload = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "metadata": dict(metadata or {}),
        "working_points": {key: wp.to_dict() for key, wp in maps.items()},
    }
    atomic_write_json(path, payload, allow_nan=False, indent=1)


def load_working_points(path: str | os.PathLike) -> dict[str, WorkingPointMap]:
    """Read a file written by :func:`save_working_points`."""
    with open(path) as fh:
        payload = json.load(fh)
    if payload.get("format") != FILE_FORMAT or payload.get("version") != FILE_VERSION:
        raise ValueError(
            f"{path}: format {payload.get('format')!r} v{payload.get('version')}; expected {FILE_FORMAT!r} v{FILE_VERSION}"
        )
    return {key: WorkingPointMap.from_dict(d) for key, d in payload["working_points"].items()}
