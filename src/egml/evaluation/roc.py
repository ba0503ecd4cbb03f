"""Weighted ROC curves, AUC, and rejection at fixed efficiency with binomial errors.

Conventions (shared with :mod:`egml.evaluation.working_points`): an entry *passes* a threshold t
when ``score >= t``; signal efficiency ε_S and background efficiency ε_B are weighted pass
fractions; background rejection is 1/ε_B. Errors are the weighted binomial errors

    σ_ε² = [(1 − ε)² Σ_pass w² + ε² Σ_fail w²] / (Σ w)²,

which reduce to √(ε(1 − ε)/N) for unit weights, and σ_R = σ_εB / ε_B² for the rejection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class RocCurve:
    """ROC points at every distinct score, ordered from the tightest threshold to the loosest."""

    thresholds: NDArray[np.float64]
    signal_efficiency: NDArray[np.float64]
    background_efficiency: NDArray[np.float64]

    @property
    def background_rejection(self) -> NDArray[np.float64]:
        """1/ε_B (inf where no background passes)."""
        with np.errstate(divide="ignore"):
            return 1.0 / self.background_efficiency


def _inputs(
    scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (s.shape == y.shape == w.shape):
        raise ValueError(f"scores {s.shape}, labels {y.shape}, weights {w.shape}: expected equal lengths")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf; expected finite values")
    sig = y.astype(bool) if y.dtype == bool else y == 1
    if not np.any(sig) or np.all(sig):
        raise ValueError("labels need both signal (1) and background (0) entries")
    return s, sig, w


def binomial_efficiency(passed: ArrayLike, weights: ArrayLike | None = None) -> tuple[float, float]:
    """Weighted pass fraction and its binomial error (see module docstring)."""
    p = np.asarray(passed, dtype=bool).ravel()
    w = np.ones(p.shape) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    total = w.sum()
    if p.size == 0 or total <= 0:
        return float("nan"), float("nan")
    eff = w[p].sum() / total
    var = ((1 - eff) ** 2 * np.sum(w[p] ** 2) + eff**2 * np.sum(w[~p] ** 2)) / total**2
    return float(eff), float(np.sqrt(var))


def roc_curve(scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None = None) -> RocCurve:
    """Weighted ROC; ties in the score form one point (so the AUC counts ties as ½)."""
    s, sig, w = _inputs(scores, labels, weights)
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    cum_sig = np.cumsum(np.where(sig[order], w[order], 0.0))
    cum_bkg = np.cumsum(np.where(sig[order], 0.0, w[order]))
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    return RocCurve(
        thresholds=s_sorted[last_of_tie],
        signal_efficiency=cum_sig[last_of_tie] / cum_sig[-1],
        background_efficiency=cum_bkg[last_of_tie] / cum_bkg[-1],
    )


def auc(scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Weighted area under ε_S(ε_B) = P(score_S > score_B) + ½ P(score_S = score_B)."""
    roc = roc_curve(scores, labels, weights)
    x = np.r_[0.0, roc.background_efficiency]
    y = np.r_[0.0, roc.signal_efficiency]
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) * 0.5))


def threshold_at_efficiency(scores: ArrayLike, target: float, weights: ArrayLike | None = None) -> float:
    """Highest threshold t with weighted fraction of ``scores >= t`` at least ``target``."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target efficiency {target}; expected 0 < target <= 1")
    if s.size == 0 or w.sum() <= 0:
        raise ValueError("threshold_at_efficiency: no entries (or zero total weight)")
    order = np.argsort(-s, kind="stable")
    frac = np.cumsum(w[order]) / w.sum()
    idx = min(int(np.searchsorted(frac, target * (1 - 1e-12), side="left")), s.size - 1)
    return float(s[order][idx])


def rejection_at_efficiency(
    scores: ArrayLike, labels: ArrayLike, target: float, weights: ArrayLike | None = None
) -> dict[str, float]:
    """Background rejection at the threshold giving signal efficiency ``target``.

    Returns ``threshold, signal_efficiency, signal_efficiency_err, background_efficiency,
    background_efficiency_err, rejection, rejection_err`` (rejection inf if no background passes).
    """
    s, sig, w = _inputs(scores, labels, weights)
    thr = threshold_at_efficiency(s[sig], target, w[sig])
    return _efficiencies(s, sig, w, thr)


def efficiency_at_rejection(
    scores: ArrayLike, labels: ArrayLike, target_rejection: float, weights: ArrayLike | None = None
) -> dict[str, float]:
    """Signal efficiency at the loosest threshold whose background rejection is ≥ ``target_rejection``.

    Same keys as :func:`rejection_at_efficiency`.
    """
    if target_rejection < 1.0:
        raise ValueError(f"target rejection {target_rejection}; expected >= 1")
    s, sig, w = _inputs(scores, labels, weights)
    thr = threshold_at_background_efficiency(s[~sig], 1.0 / target_rejection, w[~sig])
    return _efficiencies(s, sig, w, thr)


def threshold_at_background_efficiency(
    scores: ArrayLike, target: float, weights: ArrayLike | None = None
) -> float:
    """Lowest threshold t with weighted fraction of ``scores >= t`` at most ``target``.

    Returns ``inf`` (nothing passes) when even the highest score exceeds the allowed fraction.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not 0.0 <= target <= 1.0 or s.size == 0 or w.sum() <= 0:
        raise ValueError(
            f"background target {target} with {s.size} entries; expected 0 <= target <= 1 and entries"
        )
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    frac = np.cumsum(w[order]) / w.sum()
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    ok = last_of_tie & (frac <= target * (1 + 1e-12))
    if not np.any(ok):
        return float("inf")
    return float(s_sorted[np.flatnonzero(ok)[-1]])


def efficiencies_at_threshold(
    scores: ArrayLike, labels: ArrayLike, threshold: float, weights: ArrayLike | None = None
) -> dict[str, float]:
    """Signal/background efficiencies, rejection and their errors at a given threshold."""
    s, sig, w = _inputs(scores, labels, weights)
    return _efficiencies(s, sig, w, float(threshold))


def _efficiencies(s: NDArray, sig: NDArray, w: NDArray, thr: float) -> dict[str, float]:
    passed = s >= thr
    eff_s, err_s = binomial_efficiency(passed[sig], w[sig])
    eff_b, err_b = binomial_efficiency(passed[~sig], w[~sig])
    rej = 1.0 / eff_b if eff_b > 0 else float("inf")
    rej_err = err_b / eff_b**2 if eff_b > 0 else float("nan")
    return {
        "threshold": thr,
        "signal_efficiency": eff_s,
        "signal_efficiency_err": err_s,
        "background_efficiency": eff_b,
        "background_efficiency_err": err_b,
        "rejection": rej,
        "rejection_err": rej_err,
    }
