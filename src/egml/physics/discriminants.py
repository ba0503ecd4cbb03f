"""Electron-DNN discriminants D_el and D_CF (reference 001; PHYSICS.md §3; issue 5).

    D_el = ln[(f_El p_El + (1 − f_El) p_CF) /
              (f_PC p_PC + f_HF p_HF + f_LFEg p_LFEg + (1 − f_PC − f_HF − f_LFEg) p_LFH)]
    D_CF = p_El / p_CF       (ln D_CF is returned by :func:`log_d_cf`)

The six class scores come in the order of :data:`ELECTRON_CLASSES` (PHYSICS.md §3 table, and the
``DFCommonElectronsDNN_pel … _plh`` order). Everything is computed from log-probabilities with
log-sum-exp, so scores of 1e-30 (or logits of any size) neither underflow nor divide by zero.

The default fractions f are the composition weights of the "physical" mix of PHYSICS.md §3
(PE 0.30, CF 0.01, PC 0.10, HF 0.10, LFEg 0.14, LFH 0.35): f_El is the PE share of PE ∪ CF and
f_PC, f_HF, f_LFEg are shares among the four background classes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_softmax, logsumexp

ELECTRON_CLASSES: tuple[str, ...] = ("El", "CF", "PC", "HF", "LFEg", "LFH")

# PHYSICS.md §3 "Class mix": configurable physical mix [K].
PHYSICAL_MIX: dict[str, float] = {"El": 0.30, "CF": 0.01, "PC": 0.10, "HF": 0.10, "LFEg": 0.14, "LFH": 0.35}


def fractions_from_mix(mix: Mapping[str, float] = PHYSICAL_MIX) -> dict[str, float]:
    """D_el fractions (f_El, f_PC, f_HF, f_LFEg) from class abundances."""
    missing = [c for c in ELECTRON_CLASSES if c not in mix]
    if missing:
        raise ValueError(f"class mix lacks {missing}; expected all of {ELECTRON_CLASSES}")
    sig = mix["El"] + mix["CF"]
    bkg = mix["PC"] + mix["HF"] + mix["LFEg"] + mix["LFH"]
    if sig <= 0 or bkg <= 0:
        raise ValueError(f"class mix {dict(mix)}: expected positive signal (El+CF) and background totals")
    return {
        "f_el": mix["El"] / sig,
        "f_pc": mix["PC"] / bkg,
        "f_hf": mix["HF"] / bkg,
        "f_lfeg": mix["LFEg"] / bkg,
    }


DEFAULT_FRACTIONS: dict[str, float] = fractions_from_mix(PHYSICAL_MIX)


def class_log_probabilities(scores: ArrayLike, kind: str = "probabilities") -> NDArray[np.float64]:
    """``(N, 6)`` natural-log class probabilities from ``"probabilities"``, ``"log_probabilities"`` or ``"logits"``."""
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(ELECTRON_CLASSES):
        raise ValueError(f"class scores have shape {x.shape}; expected (N, {len(ELECTRON_CLASSES)})")
    if kind == "logits":
        return log_softmax(x, axis=1)
    if kind == "log_probabilities":
        return x
    if kind == "probabilities":
        if np.any(x < 0):
            raise ValueError("class probabilities contain negative values; expected p >= 0")
        with np.errstate(divide="ignore"):
            return np.log(x)
    raise ValueError(f"kind={kind!r}; expected 'probabilities', 'log_probabilities' or 'logits'")


def _log_fraction(f: float, name: str) -> float:
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"D_el fraction {name}={f}; expected 0 <= f <= 1")
    return np.log(f) if f > 0 else -np.inf


def d_el(
    scores: ArrayLike,
    f_el: float = DEFAULT_FRACTIONS["f_el"],
    f_pc: float = DEFAULT_FRACTIONS["f_pc"],
    f_hf: float = DEFAULT_FRACTIONS["f_hf"],
    f_lfeg: float = DEFAULT_FRACTIONS["f_lfeg"],
    kind: str = "probabilities",
) -> NDArray[np.float64]:
    """D_el per candidate (see module docstring); ``kind`` says what ``scores`` are."""
    f_lfh = 1.0 - f_pc - f_hf - f_lfeg
    if f_lfh < -1e-12:
        raise ValueError(f"f_PC + f_HF + f_LFEg = {f_pc + f_hf + f_lfeg}; expected <= 1")
    lp = class_log_probabilities(scores, kind)
    log_f_sig = np.array([_log_fraction(f_el, "f_El"), _log_fraction(1.0 - f_el, "1-f_El")])
    log_f_bkg = np.array(
        [
            _log_fraction(f, n)
            for f, n in ((f_pc, "f_PC"), (f_hf, "f_HF"), (f_lfeg, "f_LFEg"), (max(f_lfh, 0.0), "f_LFH"))
        ]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        num = logsumexp(lp[:, :2] + log_f_sig, axis=1)
        den = logsumexp(lp[:, 2:] + log_f_bkg, axis=1)
    return num - den


def log_d_cf(scores: ArrayLike, kind: str = "probabilities") -> NDArray[np.float64]:
    """ln D_CF = ln p_El − ln p_CF (finite for any finite logits)."""
    lp = class_log_probabilities(scores, kind)
    return lp[:, 0] - lp[:, 1]


def d_cf(scores: ArrayLike, kind: str = "probabilities") -> NDArray[np.float64]:
    """D_CF = p_El / p_CF (may overflow to inf for extreme scores; prefer :func:`log_d_cf` for cuts)."""
    with np.errstate(over="ignore"):
        return np.exp(log_d_cf(scores, kind))
