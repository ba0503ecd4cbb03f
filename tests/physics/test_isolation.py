"""Isolation pieces and FixedCut working points (PHYSICS.md §1.7)."""

from __future__ import annotations

import numpy as np
import pytest

from egml.physics import isolation as iso

F32 = np.float32


def test_core_fraction_limits() -> None:
    z = np.zeros(3, F32)
    frac = iso.core_fraction(z, z, np.array([1e-4, 0.02, 10.0], F32))
    assert frac[0] == pytest.approx(1.0, abs=1e-4)
    assert 0.5 < frac[1] < 1.0
    # a very broad profile: density R²/(πR⁴) × core area
    assert frac[2] == pytest.approx(iso.CORE_AREA / (np.pi * 100.0), rel=1e-3)
    # an offset object puts less energy in the core
    assert iso.core_fraction(np.array([0.05], F32), np.array([0.0], F32), np.array([0.02], F32))[0] < frac[1]


def test_own_leakage_is_annulus_fraction() -> None:
    et = np.array([[50.0, 0.0]], F32)
    z = np.zeros((1, 2), F32)
    r_c, r_t, p = np.full((1, 2), 0.01, F32), np.full((1, 2), 0.03, F32), np.full((1, 2), 0.6, F32)
    l20 = iso.own_leakage(et, z, z, r_c, r_t, p, 0.2)
    l40 = iso.own_leakage(et, z, z, r_c, r_t, p, 0.4)
    assert 0 < l20[0] < l40[0] < 0.1 * 50  # a few % of E_T, growing with the cone
    expect = 0.4 * (0.16 / (0.16 + 0.0009) - iso.core_fraction(z[:, :1], z[:, :1], r_t[:, :1])[0, 0])
    expect += 0.6 * (0.16 / (0.16 + 0.0001) - iso.core_fraction(z[:, :1], z[:, :1], r_c[:, :1])[0, 0])
    assert l40[0] == pytest.approx(50 * expect, rel=1e-4)


def test_point_deposits_cone_and_core() -> None:
    et = np.array([[1.0, 2.0, 4.0, 8.0]], F32)
    deta = np.array([[0.01, 0.15, 0.3, 0.5]], F32)
    dphi = np.zeros((1, 4), F32)
    mask = np.ones((1, 4), bool)
    assert iso.point_deposits(et, deta, dphi, mask, 0.2)[0] == 2.0  # core point excluded
    assert iso.point_deposits(et, deta, dphi, mask, 0.4)[0] == 6.0
    mask[0, 1] = False
    assert iso.point_deposits(et, deta, dphi, mask, 0.4)[0] == 4.0


def test_ue_pileup_statistics() -> None:
    rng = np.random.default_rng(1)
    mu = np.full(20000, 35.0, F32)
    a = iso.cone_area(0.4)
    x = iso.ue_pileup_et(mu, a, rng.standard_normal(20000).astype(F32))
    assert x.mean() == pytest.approx((0.6 + 0.2 * 35) * a, abs=0.05)
    assert x.std() == pytest.approx(0.37 * np.sqrt(a * 35), rel=0.03)
    rho = iso.rho_measured(mu, rng.standard_normal(20000).astype(F32))
    assert rho.std() / rho.mean() == pytest.approx(0.1, rel=0.05)


def test_track_cone_threshold() -> None:
    pt = np.array([[0.9, 1.5, 3.0, 5.0]], F32)
    dr = np.array([[0.1, 0.1, 0.3, 0.1]], F32)
    mask = np.array([[True, True, True, False]])
    assert iso.track_cone_sum(pt, dr, mask, 0.2)[0] == 1.5
    assert iso.track_cone_sum(pt, dr, mask, 0.4)[0] == 4.5


def test_fixed_cut_working_points() -> None:
    pt = np.full(4, 100.0, F32)
    topo20 = np.array([1.0, 7.0, 1.0, 1.0], F32)  # loose threshold 6.5 GeV
    topo40 = np.array([1.0, 1.0, 5.0, 1.0], F32)  # tight threshold 2.2 + 2.45 = 4.65 GeV
    ptc20 = np.array([1.0, 1.0, 1.0, 6.0], F32)  # track threshold 5 GeV
    wp = iso.fixed_cut_working_points(pt, topo20, topo40, ptc20)
    assert wp["FixedCutTight"].tolist() == [True, True, False, False]
    assert wp["FixedCutLoose"].tolist() == [True, False, True, False]
    assert wp["FixedCutTightCaloOnly"].tolist() == [True, True, False, True]
