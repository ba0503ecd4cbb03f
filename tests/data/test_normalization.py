"""Input normalisation: standard and robust (median / quantile width) statistics, clipping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from egml.data import DataError
from egml.data.normalization import Normalization, RunningMoments, fit_normalization
from egml.tasks.base import FieldNormalizer


def heavy_tailed(n: int = 200_000, seed: int = 0) -> np.ndarray:
    """A unit Gaussian core with 1 % of far outliers (like d0 significance or E/p)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 1.0, n)
    x[: n // 100] = rng.normal(2.0, 100.0, n // 100)
    return x.astype(np.float32)


def test_robust_statistics_ignore_the_tails_standard_ones_do_not() -> None:
    x = heavy_tailed()
    std = fit_normalization({"d0Sig": x}, ["d0Sig"]).stats["d0Sig"]
    rob = fit_normalization({"d0Sig": x}, ["d0Sig"], method="robust").stats["d0Sig"]
    lo, med, hi = np.percentile(x, [16, 50, 84])
    assert rob == pytest.approx((med, (hi - lo) / 2), rel=1e-6)
    assert rob[1] == pytest.approx(1.0, abs=0.03)  # the core's sigma
    assert std[1] > 5.0  # inflated by the 1 % of outliers


def test_streaming_subsample_is_bounded_deterministic_and_close_to_exact() -> None:
    x = heavy_tailed()
    chunks = np.array_split(x, 37)

    def stream() -> RunningMoments:
        m = RunningMoments("robust", max_samples=10_000)
        for c in chunks:
            m.update({"f": c}, ["f"])
        return m

    a, b = stream(), stream()
    assert sum(p.size for p in a.samples["f"]) <= 10_000 + max(c.size for c in chunks)
    assert a.finish().stats == b.finish().stats
    exact = fit_normalization({"f": x}, ["f"], method="robust").stats["f"]
    assert a.finish().stats["f"] == pytest.approx(exact, abs=0.03)


def test_constant_core_falls_back_to_the_standard_deviation() -> None:
    x = np.zeros(1000, dtype=np.float32)
    x[:50] = np.arange(1, 51)  # a hit count that is mostly 0
    center, scale = fit_normalization({"n": x}, ["n"], method="robust").stats["n"]
    assert center == 0.0 and scale == pytest.approx(float(x.astype(np.float64).std()))


def test_clip_round_trips_through_the_task_normaliser_and_clamps() -> None:
    norm = fit_normalization({"f": heavy_tailed()}, ["f"], method="robust", clip=5.0)
    stats = norm.to_dict()
    assert stats["f"]["clip"] == 5.0 and Normalization.from_dict(stats).clip == 5.0
    layer = FieldNormalizer(stats)
    assert layer.stats()["f"]["clip"] == 5.0
    out = layer({"f": torch.tensor([-1e4, 2.0, 1e4])})["f"]
    assert out.tolist() == pytest.approx(
        [-5.0, (2.0 - stats["f"]["mean"]) / stats["f"]["std"], 5.0], abs=1e-6
    )
    unclipped = FieldNormalizer(fit_normalization({"f": heavy_tailed()}, ["f"]).to_dict())
    assert abs(float(unclipped({"f": torch.tensor([1e4])})["f"])) > 5.0


@pytest.mark.parametrize(
    ("method", "clip", "key"), [("median", None, "normalize_method"), ("robust", -1.0, "normalize_clip")]
)
def test_bad_settings_name_the_config_key(method: str, clip: float | None, key: str) -> None:
    with pytest.raises(DataError, match=f"data.{key}"):
        RunningMoments(method, clip)
