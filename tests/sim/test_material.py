"""Tests of the ATLAS upstream material, conversions and bending (PHYSICS.md §1.3, §2.7 test 7)."""

from __future__ import annotations

import numpy as np
import pytest

from egml.sim.atlas import material as mat
from egml.sim.atlas.conversions import convert_photons


def test_material_tables() -> None:
    assert mat.X_conv(0.0) == pytest.approx(0.30)
    assert mat.X_conv(1.6) == pytest.approx(1.35)
    assert mat.X_conv(2.47) == pytest.approx(0.80)  # held constant beyond 2.37
    assert mat.X_up(1.52, mat_scale=1.05) == pytest.approx(5.5 * 1.05, rel=1e-6)
    assert mat.X_PS(0.0) == pytest.approx(1.9)
    p = mat.conversion_probability(mat.X_conv(np.array([0.0, 1.6, 2.37])))
    np.testing.assert_allclose(p, [0.21, 0.65, 0.46], atol=0.01)
    with pytest.raises(ValueError, match="mat_scale"):
        mat.X_up(0.3, mat_scale=0.0)


def test_radial_profile_inverse() -> None:
    f = np.linspace(0, 1, 101)
    R = mat.radius_at_material_fraction(f)
    assert np.all(np.diff(R) >= 0) and 22.0 <= R[0] <= 24.0 and R[-1] == pytest.approx(800.0)
    np.testing.assert_allclose(mat.material_fraction_at_radius(R), f, atol=1e-6)


def test_pair_share_distribution() -> None:
    u = np.random.default_rng(3).random(200000)
    x = mat.pair_energy_share(u)
    assert np.all((x >= 0) & (x <= 1))
    cdf = (9 / 7) * (x - (2 / 3) * x**2 + (4 / 9) * x**3)
    np.testing.assert_allclose(cdf, u, atol=1e-5)
    # the pdf 1 − (4/3)x(1−x) favours asymmetric sharing: P(x < 0.1) = (9/7)(0.1 − 2/300 + 4/9000)
    assert np.mean(x < 0.1) == pytest.approx((9 / 7) * (0.1 - 0.02 / 3 + 0.004 / 9), abs=0.004)


def test_bend_dphi() -> None:
    d = mat.bend_dphi(0.0, 1.68, 10.0, +1)
    assert abs(float(d)) == pytest.approx(0.046, rel=0.03)  # ≈ 0.46/p_T (§1.3)
    assert float(d) < 0 and float(mat.bend_dphi(0.0, 1.68, 10.0, -1)) == pytest.approx(-float(d))
    assert float(mat.bend_dphi(1.3, 1.68, 10.0, 1)) == 0.0  # made outside the field
    with pytest.raises(ValueError, match="p_T"):
        mat.bend_dphi(0.0, 1.68, 0.0, 1)


@pytest.mark.parametrize("eta_range", [(0.0, 0.6), (1.52, 1.8)])
def test_conversion_fraction_matches_expectation(eta_range: tuple[float, float]) -> None:
    """§2.7 test 7: reco-converted fraction = P_conv·⟨ε⟩ + (1 − P_conv)·0.02 within 3σ."""
    rng = np.random.default_rng(7)
    n = 40000
    eta = rng.uniform(*eta_range, (n, 1)).astype(np.float32)
    E = np.full((n, 1), 50.0, np.float32)
    objs, info = convert_photons(E, eta, np.zeros((n, 1)), np.ones((n, 1), bool), rng)
    p_conv = mat.conversion_probability(mat.X_conv(np.abs(eta)))
    assert info.converted_true.mean() == pytest.approx(p_conv.mean(), abs=4 * (0.25 / n) ** 0.5)
    eps = mat.reconstruction_efficiency(info.R_conv_true[info.converted_true]).mean()
    expected = float(np.mean(p_conv * eps + (1 - p_conv) * mat.FAKE_CONVERSION_RATE))
    reco = (info.conv_type > 0).mean()
    assert reco == pytest.approx(expected, abs=3 * (expected * (1 - expected) / n) ** 0.5)
    # energy is conserved by the legs; unconverted slots leave the second leg empty
    np.testing.assert_allclose(objs.E.sum(axis=1), 50.0, rtol=1e-6)
    assert np.all(~objs.mask[:, 1] | info.converted_true[:, 0])
    # legs split in φ only, in opposite directions
    conv = info.converted_true[:, 0]
    assert np.all(objs.eta[conv, 0] == objs.eta[conv, 1])
    assert np.all(objs.phi[conv, 0] * objs.phi[conv, 1] <= 0)
    assert np.all((info.conv_type >= 0) & (info.conv_type <= 5))


def test_convert_photons_is_deterministic_and_fixed_shape() -> None:
    E = np.array([[40.0, 0.0], [20.0, 5.0]], np.float32)
    eta = np.array([[0.3, 0.0], [1.7, -2.0]], np.float32)
    args = (E, eta, np.zeros_like(E), E > 0)
    a = convert_photons(*args, np.random.default_rng(5))
    b = convert_photons(*args, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0].E, b[0].E)
    assert a[0].E.shape == (2, 4) and not a[0].mask[0, 2]
    with pytest.raises(ValueError, match="padded"):
        convert_photons(E[0], eta[0], E[0], E[0] > 0, np.random.default_rng(5))
