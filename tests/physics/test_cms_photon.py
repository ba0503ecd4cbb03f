"""CMS photon-ID variables (egml.physics.cms_photon) on hand-made crystal images."""

from __future__ import annotations

import numpy as np
import pytest

from egml.physics import cms_photon as cp


def _empty(n: int = 1) -> np.ndarray:
    return np.zeros((n, 32, 32), np.float32)


def test_single_crystal_is_fully_contained() -> None:
    img = _empty()
    img[0, 15, 15] = 50.0
    sc = cp.supercluster_mask(img)
    centres = np.tile(((np.arange(32) + 0.5) * cp.CRYSTAL_SIZE)[None], (1, 1)).astype(np.float32)
    e_raw, sc_eta, _, eta_w, phi_w = cp.supercluster_moments(img, sc, centres, centres)
    assert e_raw[0] == pytest.approx(50.0)
    assert cp.r9(img, e_raw)[0] == pytest.approx(1.0)
    assert cp.s4(img)[0] == pytest.approx(1.0)
    see, sep = cp.local_covariances(img)
    assert see[0] == pytest.approx(0.0, abs=1e-7) and sep[0] == pytest.approx(0.0, abs=1e-9)
    assert eta_w[0] == pytest.approx(0.0, abs=1e-6) and phi_w[0] == pytest.approx(0.0, abs=1e-6)
    assert sc_eta[0] == pytest.approx(15.5 * cp.CRYSTAL_SIZE)


def test_sigma_ieta_ieta_follows_eta_spread_only() -> None:
    img = _empty(2)
    img[:, 15, 15] = 10.0
    img[0, 14, 15] = img[0, 16, 15] = 2.0  # spread in η
    img[1, 15, 14] = img[1, 15, 16] = 2.0  # spread in φ
    see, sep = cp.local_covariances(img)
    assert see[0] > 0.3 * cp.CRYSTAL_SIZE and see[1] == pytest.approx(0.0, abs=1e-7)
    assert sep == pytest.approx([0.0, 0.0], abs=1e-9)
    img2 = _empty()
    img2[0, 15, 15], img2[0, 16, 16], img2[0, 14, 14] = 10.0, 3.0, 3.0  # along the diagonal
    assert cp.local_covariances(img2)[1][0] > 0
    # log weights ignore crystals below e^-4.7 ≈ 0.9 % of E5×5
    img3 = _empty()
    img3[0, 15, 15], img3[0, 17, 15] = 10.0, 0.05
    assert cp.local_covariances(img3)[0][0] == pytest.approx(0.0, abs=1e-7)


def test_r9_and_s4_of_two_separated_photons() -> None:
    img = _empty()
    img[0, 15, 15], img[0, 15, 17] = 30.0, 20.0  # second photon 2 crystals away in φ
    e_raw = cp.supercluster_moments(img, cp.supercluster_mask(img), np.zeros((1, 32)), np.zeros((1, 32)))[0]
    assert e_raw[0] == pytest.approx(50.0)
    assert cp.r9(img, e_raw)[0] == pytest.approx(0.6)
    assert cp.s4(img)[0] == pytest.approx(30.0 / 50.0)


def test_supercluster_dominoes_threshold_and_reach() -> None:
    img = _empty()
    img[0, 15, 15] = 20.0
    img[0, 14, 20] = 1.0  # domino above 0.35 GeV, 5 columns away → in the SC
    img[0, 15, 22] = 0.2  # below threshold → not in the SC
    img[0, 15, 27] = 5.0  # 12 columns away → beyond ±10
    img[0, 19, 15] = 3.0  # 4 rows away → outside the 5-crystal domino
    sc = cp.supercluster_mask(img)
    assert sc[0, 14, 20] and sc[0, 15, 15]
    assert not sc[0, 15, 22] and not sc[0, 15, 27] and not sc[0, 19, 15]


def test_cone_sums_and_worst_vertex() -> None:
    pt = np.array([[5.0, 3.0, 2.0, 4.0]], np.float32)
    eta = np.array([[0.1, 0.0, 0.0, 0.0]], np.float32)
    phi = np.array([[0.0, 0.01, 0.2, 0.0 + 2 * np.pi - 0.1]], np.float32)  # last wraps to −0.1
    mask = np.ones_like(pt, bool)
    vertex = np.array([[0, 0, 1, 1]])
    axis = np.zeros(1, np.float32)
    assert cp.cone_sum(pt, eta, phi, mask, axis, axis, 0.3, 0.02)[0] == pytest.approx(11.0)
    pv = mask & (vertex == 0)
    assert cp.cone_sum(pt, eta, phi, pv, axis, axis, 0.3, 0.02)[0] == pytest.approx(5.0)
    assert cp.worst_vertex_isolation(pt, eta, phi, vertex, mask, axis, axis, 4)[0] == pytest.approx(6.0)


def test_photon_isolation_excludes_supercluster_and_noise() -> None:
    img = _empty()
    img[0, 15, 15] = 40.0
    img[0, 15, 25] = 2.0  # 10 columns away: its domino is in the SC, so not counted
    img[0, 25, 15] = 2.0  # 10 rows away: outside the SC, ΔR = 0.174 < 0.3
    img[0, 5, 5] = 0.2  # below the 0.3 GeV threshold
    eta_c = ((np.arange(32) - 15) * cp.CRYSTAL_SIZE)[None].astype(np.float32)
    sc = cp.supercluster_mask(img)
    iso = cp.photon_isolation(img, sc, eta_c, eta_c, np.zeros(1), np.zeros(1))
    expected = 2.0 / np.cosh(10 * cp.CRYSTAL_SIZE)
    assert iso[0] == pytest.approx(expected, rel=1e-5)


def test_preselection_and_bad_input() -> None:
    ok = cp.passes_preselection(
        np.array([20.0, 20.0, 10.0, 20.0]),
        np.array([0.5, 1.5, 0.5, 0.5]),
        np.array([0.9, 0.9, 0.9, 0.9]),
        np.array([0.01, 0.01, 0.01, 0.01]),
        np.array([0.009, 0.009, 0.009, 0.011]),
        np.array([False, False, False, False]),
    )
    assert ok.tolist() == [True, False, False, False]
    assert cp.photon_iso_effective_area(np.array([0.5, 1.2])).tolist() == pytest.approx([0.1113, 0.0953])
    with pytest.raises(ValueError, match="32, 32"):
        cp.r9(np.zeros((3, 5, 5)), np.ones(3))
