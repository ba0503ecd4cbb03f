"""Working points: per-bin thresholds reach their target on an independent sample; JSON round trip."""

import json

import numpy as np
import pytest

from egml.evaluation.working_points import (
    efficiency_per_bin,
    fit_working_point,
    load_working_points,
    save_working_points,
)

EDGES = {"pt": [10.0, 25.0, 50.0, 1000.0], "abs_eta": [0.0, 1.37, 2.37], "converted": [-0.5, 0.5, 1.5]}


def _sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Toy photons whose score distribution depends on every bin variable (so bins matter)."""
    rng = np.random.default_rng(seed)
    sig = rng.random(n) < 0.5
    pt = np.exp(rng.uniform(np.log(10), np.log(200), n))
    eta = rng.uniform(-2.37, 2.37, n)
    conv = (rng.random(n) < 0.3).astype(np.float64)
    score = rng.normal(np.where(sig, 1.0, -1.0) + 0.01 * pt - 0.5 * np.abs(eta) - 0.3 * conv, 1.0)
    weights = rng.uniform(0.5, 1.5, n)
    return score.astype(np.float32), sig, {"pt": pt, "eta": eta, "converted": conv}, weights


def test_signal_efficiency_per_bin_on_independent_sample() -> None:
    # 12 bins, ~40k signal per bin after the weights: the binomial spread of train + test is
    # ~0.3 % at ε = 0.8, so the ±1 % requirement (issue 5) is a > 3σ test per bin, not luck.
    s_tr, y_tr, v_tr, w_tr = _sample(900_000, 1)
    s_te, y_te, v_te, w_te = _sample(900_000, 2)
    for target in (0.93, 0.80):
        wp = fit_working_point(s_tr, y_tr, v_tr, EDGES, target, weights=w_tr, min_entries=1000)
        assert wp.thresholds.shape == (3, 2, 2)
        assert not wp.fallback.any()
        table = efficiency_per_bin(wp, s_te[y_te], {k: v[y_te] for k, v in v_te.items()}, w_te[y_te])
        checked = table["n"] >= 1000
        assert checked.all()
        assert np.all(np.abs(table["efficiency"][checked] - target) < 0.01), table["efficiency"]
    # the binning matters: one inclusive threshold misses the target in some bin by far
    inclusive = fit_working_point(s_tr, y_tr, v_tr, {}, 0.8, weights=w_tr)
    flat = efficiency_per_bin(wp, s_te[y_te], {k: v[y_te] for k, v in v_te.items()})
    assert np.all(np.abs(flat["efficiency"] - 0.8) < 0.01)
    passed = inclusive.apply(s_te, v_te)
    idx = wp.bin_index(v_te)
    per_bin = np.array([passed[y_te & (idx == b)].mean() for b in range(12)])
    assert np.max(np.abs(per_bin - 0.8)) > 0.05


def test_background_rejection_target() -> None:
    s, y, v, w = _sample(200_000, 3)
    wp = fit_working_point(
        s, y, v, {"pt": [10, 40, 1000]}, 20.0, target_kind="background_rejection", weights=w
    )
    table = efficiency_per_bin(wp, s[~y], {k: x[~y] for k, x in v.items()}, w[~y])
    np.testing.assert_allclose(table["efficiency"], 1 / 20.0, atol=2e-3)
    assert np.all(table["efficiency"] <= 1 / 20.0 + 1e-12)  # thresholds never exceed the allowed ε_B


def test_fallback_clipping_and_json_round_trip(tmp_path) -> None:
    s, y, v, w = _sample(20_000, 4)
    edges = {"pt": [10.0, 150.0, 190.0, 200.0]}  # last bin nearly empty
    wp = fit_working_point(s, y, v, edges, 0.9, weights=w, min_entries=500, name="loose", score="p_gamma")
    assert wp.fallback.tolist() == [False, False, True]
    assert wp.thresholds[2] == wp.inclusive_threshold
    wp.thresholds[1] = np.inf  # nothing passes: stored as null
    path = tmp_path / "sub" / "wps.json"
    save_working_points(path, {"loose": wp}, metadata={"task": "photon_cnn"})
    assert json.loads(path.read_text())["working_points"]["loose"]["thresholds"][1] is None
    back = load_working_points(path)["loose"]
    np.testing.assert_array_equal(back.thresholds, wp.thresholds)
    assert back.bin_edges == wp.bin_edges and back.score == "p_gamma"
    # out-of-range values are clipped into the edge bins; apply is identical after the round trip
    extreme = {"pt": np.array([1.0, 5000.0])}
    assert back.bin_index(extreme).tolist() == [0, 2]
    np.testing.assert_array_equal(back.apply(s, v), wp.apply(s, v))
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temp file left


def test_bad_input() -> None:
    s, y, v, _ = _sample(100, 5)
    with pytest.raises(ValueError, match="increasing"):
        fit_working_point(s, y, v, {"pt": [50, 10]}, 0.9)
    with pytest.raises(ValueError, match="missing"):
        fit_working_point(s, y, v, {"phi": [0, 1]}, 0.9)
    with pytest.raises(ValueError, match="target_kind"):
        fit_working_point(s, y, v, {}, 0.9, target_kind="purity")
