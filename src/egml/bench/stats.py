"""Medians with their spread, and ratios of figures measured in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Figure = dict[str, float]


def summary(values: Sequence[float]) -> Figure:
    """``{"median", "min", "max", "n"}`` of repeated measurements (NaN-free input expected)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def ratio(num: Sequence[float], den: Sequence[float]) -> Figure:
    """Per-repeat ratios num[i]/den[i] (paired, so slow phases of a shared machine cancel)."""
    return summary([a / b for a, b in zip(num, den) if b > 0])


def rate(n: float, fn: Callable[[], Any]) -> float:
    """``n / seconds`` of one call of ``fn``."""
    t0 = time.perf_counter()
    fn()
    return n / max(time.perf_counter() - t0, 1e-9)


def value(figure: Any) -> float:
    """The headline number of a figure (its median) or of a plain number."""
    return float(figure["median"]) if isinstance(figure, dict) else float(figure)
