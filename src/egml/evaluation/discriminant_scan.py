"""Scan of the D_el composition fractions that maximise background rejection at a target efficiency.

Issue 5 option: instead of the physical-mix fractions, pick (f_El, f_PC, f_HF, f_LFEg) on a grid
(the background fractions on a simplex with step ``step``, f_LFH = 1 − the others) to maximise
the rejection of ``background_classes`` at ``target_efficiency`` of ``signal_classes``.
Run it on the **validation** split and apply the result to the test split; choosing the fractions
on the test sample would flatter the DNN. Cost: one D_el evaluation and one sort per grid point
(286 background points at step 0.1 times the f_El values).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np
from numpy.typing import ArrayLike

from egml.evaluation.roc import rejection_at_efficiency
from egml.physics.discriminants import class_log_probabilities, d_el


def background_fraction_grid(step: float = 0.1) -> np.ndarray:
    """All (f_PC, f_HF, f_LFEg) on a grid with f_PC + f_HF + f_LFEg ≤ 1, shape (K, 3)."""
    n = round(1.0 / step)
    if n < 1 or abs(n * step - 1.0) > 1e-9:
        raise ValueError(f"fraction grid step {step}; expected 1/step to be a positive integer")
    grid = np.array([c for c in product(range(n + 1), repeat=3) if sum(c) <= n], dtype=np.float64) / n
    return grid


def scan_d_el_fractions(
    scores: ArrayLike,
    labels: ArrayLike,
    target_efficiency: float = 0.7,
    weights: ArrayLike | None = None,
    kind: str = "probabilities",
    signal_classes: Sequence[int] = (0,),
    background_classes: Sequence[int] = (2, 3, 4, 5),
    f_el_values: Sequence[float] = (0.5, 0.9, 0.97, 1.0),
    step: float = 0.1,
) -> dict[str, float]:
    """Best fractions and the rejection they reach; keys ``f_el, f_pc, f_hf, f_lfeg, rejection, threshold``."""
    lp = class_log_probabilities(scores, kind)
    y = np.asarray(labels).ravel()
    use = np.isin(y, signal_classes) | np.isin(y, background_classes)
    lp, y = lp[use], y[use]
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()[use]
    is_signal = np.isin(y, signal_classes).astype(int)
    best: dict[str, float] = {"rejection": -np.inf}
    for f_el in f_el_values:
        for f_pc, f_hf, f_lfeg in background_fraction_grid(step):
            d = d_el(lp, f_el, f_pc, f_hf, f_lfeg, kind="log_probabilities")
            d = np.nan_to_num(d, nan=-np.inf, posinf=1e300, neginf=-1e300)
            point = rejection_at_efficiency(d, is_signal, target_efficiency, w)
            if point["rejection"] > best["rejection"]:
                best = {
                    "f_el": float(f_el),
                    "f_pc": float(f_pc),
                    "f_hf": float(f_hf),
                    "f_lfeg": float(f_lfeg),
                    "rejection": point["rejection"],
                    "threshold": point["threshold"],
                }
    return best
