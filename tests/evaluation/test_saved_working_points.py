"""Each task's evaluation applies saved working-point maps (the eval stage's training maps)
instead of fitting new ones: the decisions are exactly ``score >= saved threshold`` in the
column every task uses (``wp_<name>``, ``baseline_wp_<name>``), and no map file is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from egml.evaluation.working_points import WorkingPointMap

N = 4000


def inclusive_map(name: str, score: str, threshold: float) -> WorkingPointMap:
    return WorkingPointMap(name, score, "signal_efficiency", 0.8, (), (), np.array([threshold]), threshold)


def binned_map(
    name: str, score: str, variables: dict[str, tuple[float, ...]], low: float, high: float
) -> WorkingPointMap:
    """Thresholds alternating between ``low`` and ``high`` over the bins (no fit could give that)."""
    shape = tuple(len(e) - 1 for e in variables.values())
    thresholds = np.where(np.arange(int(np.prod(shape))) % 2 == 0, low, high).reshape(shape)
    return WorkingPointMap(name, score, "signal_efficiency", 0.8, tuple(variables),
                           tuple(variables.values()), thresholds.astype(float), low)  # fmt: skip


def test_photon_cnn_applies_saved_maps(tmp_path: Path) -> None:
    from egml.tasks.photon_eval import BIN_EDGES, evaluate_photon_id

    rng = np.random.default_rng(0)
    label = rng.random(N) < 0.5
    p = {
        "label": label.astype(np.float32), "pt": rng.uniform(10, 200, N).astype(np.float32),
        "eta": rng.uniform(-2.3, 2.3, N).astype(np.float32), "conv_type": rng.integers(0, 3, N).astype(np.float32),
        "score_combined": np.clip(rng.normal(0.3 + 0.4 * label, 0.2), 0, 1).astype(np.float32),
        "ptcone40": rng.exponential(2, N).astype(np.float32), "ptcone20": rng.exponential(1, N).astype(np.float32),
        "cutbased_loose": (rng.random(N) < 0.6).astype(np.int32), "cutbased_tight": (rng.random(N) < 0.4).astype(np.int32),
    }  # fmt: skip
    saved = {m: binned_map(m, "score_combined", BIN_EDGES, 0.3, 0.7) for m in ("loose", "tight")}
    m = evaluate_photon_id(p, ("combined",), tmp_path, plot_formats=(), saved_working_points=saved)
    variables = {"pt": p["pt"], "abs_eta": np.abs(p["eta"]), "conv_type": p["conv_type"]}
    for menu, wp in saved.items():
        expected = wp.apply(p["score_combined"], variables)
        np.testing.assert_array_equal(p[f"wp_{menu}"], expected.astype(np.int32))
        assert m[f"test/eff_binned_wp_{menu}"] == expected[label].mean()
    assert not (tmp_path / "working_points.json").exists()


def test_electron_dnn_applies_saved_maps(tmp_path: Path) -> None:
    from egml.baselines.likelihood import LH_ABS_ETA_EDGES, LH_ET_EDGES
    from egml.models.electron_dnn import ElectronDNN
    from egml.physics.discriminants import ELECTRON_CLASSES
    from egml.tasks.electron_dnn import ElectronDNNTask
    from egml.tasks.electron_eval import evaluate_electron_id

    rng = np.random.default_rng(1)
    label = rng.choice(6, size=N, p=[0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    logits = rng.normal(0, 1, (N, 6))
    logits[np.arange(N), label] += 2.0
    task = ElectronDNNTask(ElectronDNN(feature_names=["a"], depth=1, width=4))
    p = {k: v.numpy().astype(np.float32) for k, v in task.scores(torch.as_tensor(logits), {}).items()}
    p.update(label=label.astype(np.int32), et=rng.uniform(5, 200, N).astype(np.float32),
             eta=rng.uniform(-2.4, 2.4, N).astype(np.float32))  # fmt: skip
    assert {f"p_{c}" for c in ELECTRON_CLASSES} <= set(p)
    bins = {"et": tuple(LH_ET_EDGES), "abs_eta": tuple(LH_ABS_ETA_EDGES)}
    lo, hi = np.percentile(p["D_el"], [30, 70])
    saved = {wp: binned_map(wp, "D_el", bins, lo, hi) for wp in ("loose", "medium", "tight")}
    evaluate_electron_id(p, tmp_path, fractions=task.fractions, plot_formats=(), saved_working_points=saved)
    for wp, wp_map in saved.items():
        expected = wp_map.apply(p["D_el"], {"et": p["et"], "abs_eta": np.abs(p["eta"])})
        np.testing.assert_array_equal(p[f"wp_{wp}"], expected.astype(np.int32))
    assert not (tmp_path / "working_points.json").exists()


def test_merged_photon_applies_saved_maps(tmp_path: Path) -> None:
    from egml.tasks.merged_eval import evaluate_merged_photon

    rng = np.random.default_rng(2)
    label = rng.integers(0, 3, N)
    p = {
        "label": label.astype(np.int32), "A_mass": rng.choice([0.1, 0.4, 0.6, 1.0], N).astype(np.float32),
        "pt": rng.uniform(15, 300, N).astype(np.float32), "eta": rng.uniform(-2.4, 2.4, N).astype(np.float32),
        "score_merged_photon": np.clip(rng.normal(0.3 + 0.4 * (label == 1), 0.2), 0, 1).astype(np.float32),
        "baseline_score": np.clip(rng.normal(0.4 + 0.2 * (label == 1), 0.2), 0, 1).astype(np.float32),
    }  # fmt: skip
    saved = {"medium": inclusive_map("medium", "score_merged_photon", 0.55)}
    saved["baseline_medium"] = inclusive_map("baseline_medium", "baseline_score", 0.45)
    m = evaluate_merged_photon(
        p, tmp_path, working_points={"medium": 0.8}, plot_formats=(), saved_working_points=saved
    )
    np.testing.assert_array_equal(p["wp_medium"], (p["score_merged_photon"] >= 0.55).astype(np.int32))
    np.testing.assert_array_equal(p["baseline_wp_medium"], (p["baseline_score"] >= 0.45).astype(np.int32))
    assert m["test/wp_threshold_medium"] == 0.55 and m["baseline/wp_threshold_medium"] == 0.45
    assert not p["wp_calibration"].any()  # nothing fitted: every row is a measurement row
    assert not (tmp_path / "working_points.json").exists()


def test_working_point_columns_are_the_same_in_every_task() -> None:
    from egml.tasks.base import EgmlTask

    column = EgmlTask.working_point_column
    assert column(None, "tight") == "wp_tight"
    assert column(None, "baseline_tight") == "baseline_wp_tight"
