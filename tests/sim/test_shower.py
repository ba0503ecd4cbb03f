"""Tests of the detector-agnostic GFlash shower model and the exact cell integrals (PHYSICS.md §1.4)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.integrate import dblquad
from scipy.special import gammainc

from egml.sim import shower


def _density(R: float):
    return lambda y, x: R**2 / (np.pi * (x * x + y * y + R * R) ** 2)


@pytest.mark.parametrize(("X", "Y", "R"), [(0.3, 0.7, 0.5), (1.2, 0.05, 0.2), (2.0, 3.0, 1.5)])
def test_corner_integral_matches_dblquad(X: float, Y: float, R: float) -> None:
    ref, _ = dblquad(_density(R), 0, X, 0, Y, epsabs=1e-12, epsrel=1e-12)
    G = np.float64(shower.corner_integral(np.float32(X), np.float32(Y), np.float32(R)))
    assert G == pytest.approx(ref, abs=2e-7)


def test_corner_integral_total_and_oddness() -> None:
    assert 4 * shower.corner_integral(1e6, 1e6, 1.0) == pytest.approx(1.0, abs=1e-5)
    g = shower.corner_integral(0.4, -0.3, 0.2)
    assert g == pytest.approx(-shower.corner_integral(0.4, 0.3, 0.2))
    assert shower.corner_integral(-0.4, -0.3, 0.2) == pytest.approx(shower.corner_integral(0.4, 0.3, 0.2))


def test_disk_fraction_identity() -> None:
    """Fraction inside radius r is r²/(r²+R²): integrate the cells of a fine grid inside the disk."""
    R, r = 0.02, 0.05
    edges = np.linspace(-0.08, 0.08, 401, dtype=np.float32)[None]
    frac = shower.cell_fractions_exact(edges, edges, np.zeros(1), np.zeros(1), np.full(1, R))[0]
    c = 0.5 * (edges[0, 1:] + edges[0, :-1])
    inside = (c[:, None] ** 2 + c[None, :] ** 2) < r * r
    assert frac[inside].sum() == pytest.approx(r * r / (r * r + R * R), abs=2e-3)
    assert frac.sum() == pytest.approx(4 * shower.corner_integral(0.08, 0.08, R), abs=1e-5)


def test_cell_fractions_sum_and_phi_wrap() -> None:
    eta_edges = (np.arange(8, dtype=np.float32) * 0.025 - 0.0875)[None]
    phi_edges = (np.pi - 0.135 + np.arange(12, dtype=np.float32) * 0.0245)[None]  # straddles +π
    phi0 = np.array([-np.pi + 0.001], dtype=np.float32)  # just across the wrap
    f = shower.cell_fractions_exact(eta_edges, phi_edges, np.zeros(1), phi0, np.full(1, 1e-3))
    assert f.shape == (1, 7, 11)
    assert f.sum() == pytest.approx(1.0, abs=1e-3)
    i, j = np.unravel_index(np.argmax(f[0]), f[0].shape)
    assert (i, j) == (3, 5)  # φ = π + 0.001 lies in cell [π − 0.0125, π + 0.012]


def test_gauss_fractions_match_exact_shape() -> None:
    edges = np.linspace(-0.5, 0.5, 41, dtype=np.float32)[None]
    g = shower.cell_fractions_gauss(edges, edges, np.array([0.03]), np.array([-0.02]), np.array([0.06]))
    assert g.sum() == pytest.approx(1.0, abs=1e-5)
    c = 0.5 * (edges[0, 1:] + edges[0, :-1])
    mean_eta = (g[0].sum(axis=1) * c).sum()
    assert mean_eta == pytest.approx(0.03, abs=1e-3)


def test_longitudinal_params_clamps_and_correlation() -> None:
    rng = np.random.default_rng(1)
    E = np.concatenate([np.full(20000, 50.0), np.geomspace(1e-4, 1e3, 2000)]).astype(np.float32)
    r1, r2 = rng.standard_normal((2, E.size))
    alpha, beta, T = shower.longitudinal_params(E, 60.0, 0.011, r1, r2)
    assert np.all(np.isfinite(alpha)) and np.all(alpha >= 1.2) and np.all(T >= 0.3) and np.all(beta > 0)
    assert alpha.dtype == np.float32
    lnT, lna = np.log(T[:20000]), np.log(alpha[:20000])
    ln_y = np.log(50 / 0.011)
    rho = 0.705 - 0.023 * ln_y
    assert np.corrcoef(lnT, lna)[0, 1] == pytest.approx(rho, abs=0.03)
    assert np.mean(lnT) == pytest.approx(np.log(ln_y - 0.812), abs=0.01)
    assert np.std(lnT) == pytest.approx(1 / (-1.4 + 1.26 * ln_y), rel=0.05)


def test_depth_fractions_sum_and_match_gammainc() -> None:
    rng = np.random.default_rng(2)
    n = 500
    alpha, beta, _T = shower.longitudinal_params(
        np.full(n, 30.0, np.float32), 60.0, 0.011, *rng.standard_normal((2, n))
    )
    t0 = rng.uniform(0, 6, n).astype(np.float32)
    edges = np.array([0.0, 2.5, 7.0, 23.0, 26.0], np.float32)
    F = [shower.depth_fraction(alpha, beta, t0, a, b)[0] for a, b in itertools.pairwise(edges)]
    total = np.sum(F, axis=0)
    assert np.all(total <= 1 + 1e-5) and np.all(total >= 0)
    ref = gammainc(alpha.astype(np.float64), beta * np.maximum(edges[-1] - t0, 0))
    np.testing.assert_allclose(total, ref, atol=2e-5)
    F2, tau2 = shower.depth_fraction(alpha, beta, t0, 2.5, 7.0)
    ref2 = gammainc(alpha, beta * np.maximum(7.0 - t0, 0)) - gammainc(alpha, beta * np.maximum(2.5 - t0, 0))
    np.testing.assert_allclose(F2, ref2, atol=1e-6)
    assert np.all((tau2 >= 0) & (tau2 <= 6))
    # an interval wholly before t0 holds nothing and has τ = 0 (no NaN from gammainc(a, x<0))
    F0, tau0 = shower.depth_fraction(alpha, beta, np.full(n, 10.0, np.float32), 0.0, 5.0)
    assert np.all(F0 == 0) and np.all(tau0 == 0)


def test_mean_depth_tau_matches_numeric() -> None:
    alpha, beta, t0 = np.float32(4.0), np.float32(0.5), np.float32(1.0)
    a, b = 3.0, 9.0
    t = np.linspace(a, b, 20001)
    x = t - t0
    w = x ** (alpha - 1) * np.exp(-beta * x)
    t_bar = (w * t).sum() / w.sum()
    _, tau = shower.depth_fraction(alpha, beta, t0, a, b)
    T = (alpha - 1) / beta
    assert float(tau) == pytest.approx((t_bar - t0) / T, rel=1e-3)


def test_lateral_params_ranges() -> None:
    tau = np.linspace(0, 8, 50, dtype=np.float32)
    R_C, R_T, p = shower.lateral_params(np.full(50, 50.0, np.float32), tau, 60.0)
    assert np.all(R_C > 0) and np.all(R_T > R_C) and np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(R_C) >= 0)  # core radius grows with depth (z₂ > 0)


def test_bad_edges_raise() -> None:
    with pytest.raises(ValueError, match="eta_edges"):
        shower.cell_fractions_exact(np.zeros(5), np.zeros((1, 3)), np.zeros(1), np.zeros(1), np.ones(1))


def test_corner_grid_matches_corner_integral() -> None:
    """The two-component corner grid (shared a, b per row/column) equals Σ_c w_c·G on each corner."""
    rng = np.random.default_rng(3)
    m = 37
    x = np.sort(rng.uniform(-0.1, 0.1, (m, 9)), axis=1).astype(np.float32)
    y = np.sort(rng.uniform(-0.05, 0.05, (m, 4)), axis=1).astype(np.float32)
    R = rng.uniform(0.002, 0.03, (m, 2)).astype(np.float32)
    w = rng.uniform(0.1, 5.0, (m, 2)).astype(np.float32)
    grid = shower.corner_grid(x, y, R, w)
    assert grid.shape == (m, 9, 4) and grid.flags.c_contiguous
    direct = sum(
        w[:, None, None, c] * shower.corner_integral(x[:, :, None], y[:, None, :], R[:, None, None, c])
        for c in range(2)
    )
    np.testing.assert_allclose(grid, direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(shower.corner_grid(y, x, R, w), grid.transpose(0, 2, 1))  # G(X,Y) = G(Y,X)
