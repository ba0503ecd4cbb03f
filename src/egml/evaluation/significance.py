"""Signal-to-background ratio and significance at a working point, with the normalisation stated.

At a threshold t (pass: ``score >= t``), with expected yields before the selection N_S and N_B:

    S = ε_S · N_S,   B = ε_B · N_B,   S/B,   S/√B,   Z_A = √(2((S + B) ln(1 + S/B) − S))

(Z_A: the Asimov discovery significance, Cowan et al., arXiv:1007.1727, eq. 97).
The normalisation matters: by default N_S and N_B are the summed weights of the evaluated
signal and background entries ("as sampled"), so for a balanced test sample S/B = ε_S/ε_B as in
reference 002's table. Pass ``signal_yield``/``background_yield`` (e.g. cross-section × luminosity
× preselection efficiency) for a physical S/B. The returned dict names the normalisation used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from egml.evaluation.roc import efficiencies_at_threshold, threshold_at_efficiency


def asimov_significance(s: float, b: float) -> float:
    """Z_A = √(2((s + b) ln(1 + s/b) − s)); inf for b = 0 < s."""
    if b <= 0:
        return float("inf") if s > 0 else 0.0
    return float(np.sqrt(max(0.0, 2.0 * ((s + b) * np.log1p(s / b) - s))))


def signal_to_background(
    scores: ArrayLike,
    labels: ArrayLike,
    threshold: float | None = None,
    target_efficiency: float | None = None,
    weights: ArrayLike | None = None,
    signal_yield: float | None = None,
    background_yield: float | None = None,
) -> dict[str, float | str]:
    """S, B, S/B (with binomial error), S/√B and Z_A at a threshold or a target signal efficiency."""
    if (threshold is None) == (target_efficiency is None):
        raise ValueError("give exactly one of threshold or target_efficiency")
    s = np.asarray(scores, dtype=np.float64).ravel()
    sig = np.asarray(labels).ravel() == 1
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if s.shape != sig.shape or s.shape != w.shape or not sig.any() or sig.all():
        raise ValueError(
            "scores, labels and weights need equal lengths and both signal (1) and background (0)"
        )
    if threshold is None:
        threshold = threshold_at_efficiency(s[sig], float(target_efficiency), w[sig])
    point = efficiencies_at_threshold(s, sig.astype(int), float(threshold), w)
    n_s = float(w[sig].sum()) if signal_yield is None else float(signal_yield)
    n_b = float(w[~sig].sum()) if background_yield is None else float(background_yield)
    yields = "as sampled (sum of weights)" if signal_yield is None and background_yield is None else "given"
    eff_s, eff_b = point["signal_efficiency"], point["background_efficiency"]
    sig_yield, bkg_yield = eff_s * n_s, eff_b * n_b
    ratio = sig_yield / bkg_yield if bkg_yield > 0 else float("inf")
    rel_err = np.hypot(
        point["signal_efficiency_err"] / eff_s if eff_s > 0 else 0.0,
        point["background_efficiency_err"] / eff_b if eff_b > 0 else 0.0,
    )
    return {
        **point,
        "signal_yield": sig_yield,
        "background_yield": bkg_yield,
        "s_over_b": ratio,
        "s_over_b_err": float(ratio * rel_err) if np.isfinite(ratio) else float("nan"),
        "s_over_sqrt_b": sig_yield / np.sqrt(bkg_yield) if bkg_yield > 0 else float("inf"),
        "asimov_significance": asimov_significance(sig_yield, bkg_yield),
        "normalisation": f"N_S={n_s:.6g}, N_B={n_b:.6g} before the working point ({yields})",
    }


def signal_to_background_table(
    scores: ArrayLike,
    labels: ArrayLike,
    target_efficiencies: Sequence[float] = (0.9, 0.8, 0.7),
    weights: ArrayLike | None = None,
    signal_yield: float | None = None,
    background_yield: float | None = None,
) -> list[dict[str, float | str]]:
    """:func:`signal_to_background` at several target efficiencies (reference 002: Loose/Medium/Tight)."""
    return [
        {
            "target_efficiency": t,
            **signal_to_background(scores, labels, None, t, weights, signal_yield, background_yield),
        }
        for t in target_efficiencies
    ]
