"""Kinematic reweighting by histogram ratio in pT or (pT, |η|), plus class weights.

Each background class is reweighted bin by bin to the signal distribution (``target="signal"``,
the ATLAS practice of reweighting backgrounds to signal in (E_T, η), PHYSICS.md §0 rule 2) or every
class to a flat distribution (``target="flat"``). Histograms are fitted on the training split;
values outside the binning fall in the edge bins. Weights are normalised to mean 1 per class, then
optionally multiplied by balanced class weights N / (K · N_k).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from egml.data.errors import DataError

# default binning: E_T in GeV and |η| with the crack (1.37-1.52) as its own bin (ATLAS e/γ, [K])
DEFAULT_PT_BINS = (20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0, 80.0, 100.0, 150.0, 250.0)
DEFAULT_ETA_BINS = (0.0, 0.6, 0.8, 1.15, 1.37, 1.52, 1.81, 2.01, 2.37, 2.47)


@dataclass
class Reweighter:
    """Per-class weight tables on a (pT[, |η|]) grid."""

    pt_bins: np.ndarray
    eta_bins: np.ndarray | None
    tables: dict[int, np.ndarray]  # class label → weight per bin
    class_factor: dict[int, float]

    @classmethod
    def fit(
        cls,
        pt: np.ndarray,
        label: np.ndarray,
        eta: np.ndarray | None = None,
        signal_labels: Sequence[int] = (1,),
        target: str = "signal",
        pt_bins: Sequence[float] = DEFAULT_PT_BINS,
        eta_bins: Sequence[float] | None = DEFAULT_ETA_BINS,
        class_weights: bool = False,
    ) -> Reweighter:
        """Fit weight tables on training rows (``eta`` None → 1-D in pT)."""
        if target not in ("signal", "flat"):
            raise DataError(f"reweighting target {target!r} is unknown; expected 'signal' or 'flat'")
        pt_edges = _edges(pt_bins, "pt_bins")
        eta_edges = None if eta is None or eta_bins is None else _edges(eta_bins, "eta_bins")
        label = np.asarray(label).astype(np.int64)
        bins = _bin_index(pt_edges, eta_edges, pt, eta)
        n_bins = (len(pt_edges) - 1) * (1 if eta_edges is None else len(eta_edges) - 1)
        classes = np.unique(label)
        signal = np.isin(label, np.asarray(signal_labels))
        if target == "signal" and not signal.any():
            raise DataError(
                f"reweighting: no signal entries (labels {list(signal_labels)}) in the training split"
            )
        counts = {int(c): np.bincount(bins[label == c], minlength=n_bins).astype(np.float64) for c in classes}
        reference = np.bincount(bins[signal], minlength=n_bins).astype(np.float64)
        tables: dict[int, np.ndarray] = {}
        for c, h in counts.items():
            if target == "signal" and c in set(map(int, signal_labels)):
                tables[c] = np.ones(n_bins)
                continue
            goal = reference if target == "signal" else (h > 0).astype(np.float64)
            ratio = np.divide(goal / goal.sum(), h / h.sum(), out=np.zeros(n_bins), where=h > 0)
            mean = (ratio * h).sum() / h.sum()
            tables[c] = ratio / mean if mean > 0 else ratio
        factor = {c: 1.0 for c in counts}
        if class_weights:
            total = {c: float((tables[c][bins[label == c]]).sum()) for c in counts}
            factor = {c: sum(total.values()) / (len(total) * t) if t > 0 else 0.0 for c, t in total.items()}
        return cls(pt_edges, eta_edges, tables, factor)

    def weights(self, pt: np.ndarray, label: np.ndarray, eta: np.ndarray | None = None) -> np.ndarray:
        """float32 weight per entry; classes unseen at fit time get 0."""
        bins = _bin_index(self.pt_bins, self.eta_bins, pt, eta)
        label = np.asarray(label).astype(np.int64)
        out = np.zeros(len(bins), dtype=np.float64)
        for c, table in self.tables.items():
            sel = label == c
            out[sel] = table[bins[sel]] * self.class_factor[c]
        return out.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pt_bins": self.pt_bins.tolist(),
            "eta_bins": None if self.eta_bins is None else self.eta_bins.tolist(),
            "tables": {str(c): t.tolist() for c, t in self.tables.items()},
            "class_factor": {str(c): f for c, f in self.class_factor.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reweighter:
        eta = data.get("eta_bins")
        return cls(
            np.asarray(data["pt_bins"], dtype=np.float64),
            None if eta is None else np.asarray(eta, dtype=np.float64),
            {int(c): np.asarray(t) for c, t in data["tables"].items()},
            {int(c): float(f) for c, f in data["class_factor"].items()},
        )


def _edges(bins: Sequence[float], name: str) -> np.ndarray:
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise DataError(f"reweighting {name} {list(bins)} is invalid; expected at least 2 increasing edges")
    return edges


def _bin_index(
    pt_edges: np.ndarray, eta_edges: np.ndarray | None, pt: np.ndarray, eta: np.ndarray | None
) -> np.ndarray:
    """Flat bin number; |η| is taken here, out-of-range values go to the edge bins."""
    i = np.clip(
        np.searchsorted(pt_edges, np.asarray(pt, dtype=np.float64), side="right") - 1, 0, len(pt_edges) - 2
    )
    if eta_edges is None:
        return i
    if eta is None:
        raise DataError("reweighting was fitted in (pT, |η|) but no η values were given")
    abs_eta = np.abs(np.asarray(eta, dtype=np.float64))
    j = np.clip(np.searchsorted(eta_edges, abs_eta, side="right") - 1, 0, len(eta_edges) - 2)
    return i * (len(eta_edges) - 1) + j
