"""D_el and D_CF against a hand computation (reference 001 formula), and numerical stability."""

import math

import numpy as np
import pytest

from egml.physics.discriminants import DEFAULT_FRACTIONS, d_cf, d_el, fractions_from_mix, log_d_cf

P = np.array([[0.50, 0.05, 0.10, 0.15, 0.08, 0.12]])  # El, CF, PC, HF, LFEg, LFH


def test_d_el_hand_computation() -> None:
    f = {"f_el": 0.9, "f_pc": 0.2, "f_hf": 0.3, "f_lfeg": 0.1}
    num = 0.9 * 0.50 + 0.1 * 0.05  # 0.455
    den = 0.2 * 0.10 + 0.3 * 0.15 + 0.1 * 0.08 + 0.4 * 0.12  # 0.121
    assert num == pytest.approx(0.455) and den == pytest.approx(0.121)
    assert d_el(P, **f)[0] == pytest.approx(math.log(num / den), rel=1e-12)


def test_d_cf_hand_computation() -> None:
    assert d_cf(P)[0] == pytest.approx(10.0, rel=1e-12)
    assert log_d_cf(P)[0] == pytest.approx(math.log(10.0), rel=1e-12)


def test_logits_log_probabilities_and_probabilities_agree() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 6)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ref = d_el(probs)
    np.testing.assert_allclose(d_el(logits, kind="logits"), ref, rtol=1e-10)
    np.testing.assert_allclose(d_el(np.log(probs), kind="log_probabilities"), ref, rtol=1e-10)
    np.testing.assert_allclose(log_d_cf(logits, kind="logits"), np.log(probs[:, 0] / probs[:, 1]), rtol=1e-10)


def test_extreme_logits_stay_finite() -> None:
    logits = np.array([[800.0, -800.0, -800.0, -800.0, -800.0, -800.0], [-800.0, 0, 0, 0, 0, 800.0]])
    d = d_el(logits, kind="logits")
    assert np.all(np.isfinite(d))
    # p_El ≈ 1 and every other class ≈ e^-1600: D_el = 1600 + ln f_El (background fractions sum to 1)
    assert d[0] == pytest.approx(1600.0 + math.log(DEFAULT_FRACTIONS["f_el"]), rel=1e-12)
    assert np.all(np.isfinite(log_d_cf(logits, kind="logits")))


def test_default_fractions_from_physical_mix() -> None:
    f = fractions_from_mix({"El": 0.30, "CF": 0.01, "PC": 0.10, "HF": 0.10, "LFEg": 0.14, "LFH": 0.35})
    assert f["f_el"] == pytest.approx(0.30 / 0.31)
    assert f["f_lfeg"] == pytest.approx(0.14 / 0.69)
    assert f == DEFAULT_FRACTIONS


def test_zero_fraction_and_bad_input() -> None:
    # f_El = 1 drops p_CF from the numerator entirely
    assert d_el(P, f_el=1.0, f_pc=0.25, f_hf=0.25, f_lfeg=0.25)[0] == pytest.approx(
        math.log(0.5 / (0.25 * (0.10 + 0.15 + 0.08 + 0.12)))
    )
    with pytest.raises(ValueError, match="expected"):
        d_el(P, f_pc=0.6, f_hf=0.6)
    with pytest.raises(ValueError, match="shape"):
        d_el(np.ones((3, 5)))
