"""Shower-shape reference implementation (PHYSICS.md §2.3) on hand-built cell arrays."""

from __future__ import annotations

import numpy as np
import pytest

from egml.physics import shower_shapes as ss
from egml.physics.photon_menu import photon_is_em

F32 = np.float32


def _window(n: int = 1, eta0: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    eta_c = (eta0 + 0.025 * (np.arange(7) - 3))[None].repeat(n, 0).astype(F32)
    phi_c = (2 * np.pi / 256 * (np.arange(11) - 5))[None].repeat(n, 0).astype(F32)
    return np.zeros((n, 7, 11), F32), eta_c, phi_c


def test_middle_single_cell_and_uniform() -> None:
    e, eta_c, phi_c = _window(2)
    e[0, 3, 5] = 10.0
    e[1] = 1.0
    out = ss.middle_shapes(e, eta_c, phi_c, np.array([False, False]))
    np.testing.assert_allclose(out["Reta"], [1.0, 3 / 7], rtol=1e-6)
    np.testing.assert_allclose(out["Rphi"], [1.0, 3 / 7], rtol=1e-6)
    np.testing.assert_allclose(out["e277"], [10.0, 49.0], rtol=1e-6)
    assert out["weta2_raw"][0] == 0
    np.testing.assert_allclose(out["eta2"], 0.3, atol=1e-6)


def test_weta2_two_cells_and_barycentre() -> None:
    e, eta_c, phi_c = _window()
    e[0, 3, 5] = e[0, 2, 5] = 5.0  # equal energies at η0 and η0 − 0.025
    out = ss.middle_shapes(e, eta_c, phi_c, np.array([False]))
    np.testing.assert_allclose(out["weta2_raw"], 0.0125, rtol=1e-3)
    np.testing.assert_allclose(out["eta2"], 0.3 - 0.0125, atol=1e-6)
    with pytest.raises(ValueError, match="7, 11"):
        ss.middle_shapes(e[:, :5], eta_c, phi_c, np.array([False]))


def test_weta2_correction_table() -> None:
    raw = np.full(4, 0.01, F32)
    eta_cell = np.array([0.3, 0.3, 2.6, 1.9], F32)
    eta2 = np.array([0.3, 0.3 + 0.0125 - 0.0025, 2.6, 1.9], F32)  # u = 0.5, u = 0.1 (middle branch), no corr.
    got = ss.weta2_corrected(raw, eta2, eta_cell)
    assert got[0] == pytest.approx(0.01, abs=1e-7)  # middle u-branch vanishes at u = 0.5
    u = 0.1
    assert got[1] == pytest.approx(0.01 - (0.005375 - 0.0215 * u + 0.0215 * u * u), abs=1e-6)
    assert got[2] == pytest.approx(0.01)  # |η| ≥ 2.5: no correction
    assert got[3] == pytest.approx(0.01 - (0.0047 - 0.0184 * 0.5 + 0.0180 * 0.25), abs=1e-6)


def _strips(profile: dict[int, float], n: int = 40, eta0: float = 0.3) -> tuple[np.ndarray, ...]:
    pitch = 0.025 / 8
    e = np.zeros((1, n), F32)
    for i, v in profile.items():
        e[0, i] = v
    eta = (eta0 + pitch * (np.arange(n) - n / 2 + 0.5))[None].astype(F32)
    return e, eta, np.full((1, n), pitch, F32), np.ones((1, n), bool)


def test_strip_variables_by_hand() -> None:
    # hottest strip 20, symmetric neighbours, a dip at 23 and a second maximum at 25
    e, eta, width, valid = _strips({19: 0.5, 20: 1.0, 21: 0.5, 22: 0.2, 23: 0.05, 24: 0.1, 25: 0.3, 26: 0.1})
    out = ss.strip_shapes(e, eta, width, valid, np.array([0.3], F32), np.array([False]))
    assert out["ws3"][0] == pytest.approx(np.sqrt(0.5), rel=1e-5)
    assert out["weta1"][0] == pytest.approx(np.sqrt(0.5), rel=1e-4)  # u1 = 0: no correction
    assert out["emaxs1"][0] == pytest.approx(1.0)
    assert out["e2tsts1"][0] == pytest.approx(0.3)
    assert out["emins1"][0] == pytest.approx(0.05)
    assert out["deltae"][0] == pytest.approx(0.25)
    assert out["Eratio"][0] == pytest.approx(0.7 / 1.3)
    assert out["fracs1"][0] == pytest.approx((0.5 + 1 + 0.5 + 0.2 + 0.05 + 0) / 2.0 - 1, rel=1e-5)
    # wtots1 over 20 strips around η_max (all of 10..29): Σ E (i−k)² / Σ E
    idx = np.arange(40)
    sel = np.abs(eta[0] - 0.3) <= 0.03125 + 1e-6
    w = np.sqrt((e[0, sel] * (idx[sel] - 20) ** 2).sum() / e[0, sel].sum())
    assert sel.sum() == 20
    assert out["wtots1"][0] == pytest.approx(w, rel=1e-5)


def test_strip_no_second_maximum_and_soft_fside() -> None:
    e, eta, width, valid = _strips({19: 0.01, 20: 0.05, 21: 0.01})
    out = ss.strip_shapes(e, eta, width, valid, np.array([0.3], F32), np.array([False]))
    assert out["Eratio"][0] == 1.0 and out["deltae"][0] == 0.0
    assert out["fracs1"][0] == 0.0  # E_max1 below 60 MeV


def test_undefined_strips_are_nan() -> None:
    undef = ss.strips_undefined(np.array([0.3, 1.45, 2.41, 0.3], F32), np.array([0.2, 0.2, 0.2, 0.001], F32))
    assert undef.tolist() == [False, True, True, True]
    e, eta, width, valid = _strips({20: 1.0})
    out = ss.strip_shapes(e, eta, width, valid, np.array([0.3], F32), np.array([True]))
    assert all(np.isnan(v[0]) for v in out.values())


def test_weta1_correction_regions() -> None:
    u = np.full(3, 0.3, F32)
    c = ss.weta1_correction(u, np.array([0.5, 1.47, 2.2], F32))
    np.testing.assert_allclose(c, [0.76 * 0.09, 0.0, 0.40 * 0.09 + 2.1 * 0.0081], rtol=1e-5)


def _good_photon(n: int) -> dict[str, np.ndarray]:
    v = {
        "Rhad1": 0.0,
        "Rhad": 0.0,
        "Reta": 0.96,
        "Rphi": 0.97,
        "weta2": 0.0095,
        "f1": 0.25,
        "deltae": 0.04,
        "Eratio": 0.95,
        "wtots1": 1.8,
        "fracs1": 0.15,
        "weta1": 0.6,
        "e277": 40.0,
    }
    return {k: np.full(n, x, F32) for k, x in v.items()}


def test_menu_semantics() -> None:
    n = 8
    s = _good_photon(n)
    et = np.full(n, 50.0, F32)
    eta = np.array([0.3, 0.3, 0.3, 0.3, 1.45, 0.3, 1.0, 0.3], F32)
    s["Reta"][1] = 0.91  # below tight 0.92, above loose 0.8825
    s["weta1"][2] = np.nan  # undefined strips fail tight
    s["Eratio"][3] = 0.80  # Eratio ≤ cut fails
    s["Rhad1"][6] = 0.05  # 0.8 ≤ |η| < 1.37 uses Rhad, not Rhad1 → still passes
    s["e277"][7] = 5e-5  # E277 < 0.1 MeV fails both
    tight = photon_is_em(s, et, eta, np.zeros(n, bool), "tight")
    loose = photon_is_em(s, et, eta, np.zeros(n, bool), "loose")
    assert tight.tolist() == [True, False, False, False, False, True, True, False]
    assert loose.tolist() == [True, True, True, True, True, True, True, False]  # crack has a loose bin
    # converted photons use the wide Rφ cut
    s2 = _good_photon(2)
    s2["Rphi"][:] = 0.7
    assert photon_is_em(s2, et[:2], eta[:2], np.array([True, False]), "tight").tolist() == [True, False]
    # high-E_T Rhad row is tighter (0.01825 vs 0.020 at 0–0.6)
    s3 = _good_photon(2)
    s3["Rhad1"][:] = 0.019
    assert photon_is_em(s3, np.array([50, 100], F32), eta[:2], np.zeros(2, bool), "tight").tolist() == [
        True,
        False,
    ]
    with pytest.raises(ValueError, match="menu"):
        photon_is_em(s, et, eta, np.zeros(n, bool), "medium")
