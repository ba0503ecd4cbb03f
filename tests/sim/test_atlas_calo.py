"""Tests of the ATLAS calorimeter simulation core (PHYSICS.md §1.2, §1.4–§1.6, §2.7 tests 2, 8, 11)."""

from __future__ import annotations

import numpy as np
import pytest

from egml.sim.atlas import geometry as geo
from egml.sim.atlas import material as mat
from egml.sim.atlas.calorimeter import GridSpec, simulate_calorimeter
from egml.sim.atlas.conversions import convert_photons
from egml.sim.atlas.knobs import CaloKnobs
from egml.sim.atlas.objects import EMObjects, HadronObjects
from egml.sim.atlas.response import DetectorInstance, noise_sigmas
from egml.sim.base import GenConfig, Shift

DET = DetectorInstance.from_seed(2026)
F32 = np.float32


def _photons(rng, n, E, eta_lo, eta_hi, unconverted_only=True):
    eta = rng.uniform(eta_lo, eta_hi, (n, 1)).astype(F32) * rng.choice([-1, 1], (n, 1)).astype(F32)
    phi = rng.uniform(-np.pi, np.pi, (n, 1)).astype(F32)
    objs, info = convert_photons(np.full((n, 1), E, F32), eta, phi, np.ones((n, 1), bool), rng)
    keep = ~info.converted_true[:, 0] if unconverted_only else np.ones(n, bool)
    return objs, eta[:, 0], phi[:, 0], keep


def _electrons(rng, n, E, eta_lo, eta_hi):
    """§3 electron model, reduced: e± (zE, t0 = X_ID) + one brem photon (E(1−z), t0 = X(R_b) + Exp(9/7))."""
    eta = rng.uniform(eta_lo, eta_hi, n).astype(F32)
    phi = rng.uniform(-np.pi, np.pi, n).astype(F32)
    x_id = mat.X_conv(np.abs(eta))
    z = np.exp(-rng.gamma(x_id / np.log(2))).astype(F32)
    f_b = rng.random(n)
    t_b = x_id * f_b + rng.exponential(mat.PAIR_MFP, n)
    Eo = np.stack([z * E, (1 - z) * E], axis=1).astype(F32)
    objs = EMObjects(Eo, np.stack([eta, eta], 1), np.stack([phi, phi], 1), np.stack([x_id, t_b], 1), Eo > 0)
    return objs, eta, phi


def _run(objs, eta, phi, rng, grid=None, mu=35.0, knobs=None, had=None, det=DET):
    n = len(eta)
    return simulate_calorimeter(
        objs, had, eta, phi, np.zeros(n, F32), np.full(n, mu, F32), rng, det, grid, knobs
    )


def _layer_sums(cells, attr="expected"):
    return {L: getattr(cells[L], attr).sum(axis=(1, 2)) for L in cells.layers}


# --- geometry ------------------------------------------------------------------------------------
def test_depth_boundaries_table() -> None:
    b = geo.depth_boundaries(np.array([0.0, 1.3, 2.5]), np.array([2.3, 4.6, 3.0]))
    np.testing.assert_allclose(b[0], [2.3, 6.7, 22.7, 24.7], rtol=1e-5)
    assert b[1, 3] - b[1, 0] == pytest.approx(33.0, rel=1e-5)
    assert b[2, 3] - b[2, 0] == pytest.approx(38.0, rel=1e-5)
    assert (b[2, 2] - b[2, 1]) == pytest.approx(16 * 38 / 24, rel=1e-5)


def test_impact_eta_and_grid_alignment() -> None:
    eta = np.array([0.3, -1.0, 2.0], F32)
    np.testing.assert_allclose(geo.impact_eta(eta, np.zeros(3), geo.L2), eta, atol=1e-6)
    shifted = geo.impact_eta(eta, np.full(3, 50.0), geo.L2)
    assert np.all(shifted > eta)  # a vertex at +z moves the impact to larger η
    g = geo.make_grid(geo.L2, np.array([0.0101, 1.8]), np.array([3.13, -0.5]), 7, 11)
    assert g.shape == (7, 11)
    np.testing.assert_allclose(g.eta_edges / 0.025, np.round(g.eta_edges / 0.025), atol=1e-4)
    assert g.eta_edges[0, 3] <= 0.0101 <= g.eta_edges[0, 4]
    assert np.all(np.abs(g.phi_centres) <= np.pi)
    g1 = geo.make_grid(geo.L1, np.array([0.0]), np.array([0.0]), 56, 2)
    assert g1.eta_edges[0, 0] == pytest.approx(-0.0875) and g1.phi_edges[0, 1] == pytest.approx(0.0, abs=1e-6)
    g_end = geo.make_grid(geo.L1, np.array([1.9]), np.array([0.0]), 5, 1)
    assert np.diff(g_end.eta_edges[0]) == pytest.approx(0.025 / 6, rel=1e-4)  # endcap strips coarser
    with pytest.raises(ValueError, match="layer"):
        geo.make_grid(9, np.zeros(1), np.zeros(1), 3, 3)


# --- §2.7 test 2: layer fractions, PS ------------------------------------------------------------
def test_layer_fractions_unconverted_photons() -> None:
    rng = np.random.default_rng(11)
    objs, eta, phi, keep = _photons(rng, 3000, 50.0, 0.0, 0.6)
    s = _layer_sums(_run(objs, eta, phi, rng))
    tot = s[geo.L1] + s[geo.L2] + s[geo.L3] + s[geo.PS]
    f1, f2, f3 = (s[L][keep] / tot[keep] for L in (geo.L1, geo.L2, geo.L3))
    assert 0.12 <= f1.mean() <= 0.40
    assert 0.55 <= f2.mean() <= 0.85
    assert 0.002 <= np.median(f3) <= 0.03


def test_f1_decreases_with_energy() -> None:
    rng = np.random.default_rng(12)
    means = []
    for E in (10.0, 50.0, 200.0, 500.0):
        objs, eta, phi, keep = _photons(rng, 1500, E, 0.0, 0.6)
        s = _layer_sums(_run(objs, eta, phi, rng))
        tot = s[geo.L1] + s[geo.L2] + s[geo.L3]
        means.append(float(np.mean(s[geo.L1][keep] / tot[keep])))
    assert np.all(np.diff(means) < 0), means


def test_presampler_electron_over_photon_ratio_and_material() -> None:
    rng = np.random.default_rng(13)
    n = 3000

    def f_ps(s):
        return s[geo.PS] / (s[geo.PS] + s[geo.L1] + s[geo.L2] + s[geo.L3])

    objs, eta, phi, keep = _photons(rng, n, 50.0, 0.0, 0.8)
    fg = f_ps(_layer_sums(_run(objs, eta, phi, rng)))[keep].mean()
    e_objs, e_eta, e_phi = _electrons(rng, n, 50.0, 0.0, 0.8)
    fe = f_ps(_layer_sums(_run(e_objs, e_eta, e_phi, rng))).mean()
    assert 3.0 <= fe / fg <= 10.0, (fe, fg)
    e_objs, e_eta, e_phi = _electrons(rng, n, 50.0, 1.15, 1.35)
    fe_high = f_ps(_layer_sums(_run(e_objs, e_eta, e_phi, rng))).mean()
    assert fe_high > fe  # more material in front of the PS at larger |η|


# --- §2.7 test 8: noise in far cells -------------------------------------------------------------
def test_noise_in_far_cells() -> None:
    rng = np.random.default_rng(14)
    n, mu = 2000, 35.0
    objs, eta, phi, _ = _photons(rng, n, 50.0, 0.0, 0.5, unconverted_only=False)
    sizes = dict(GridSpec().sizes)
    sizes[geo.L2] = (7, 41)  # corner columns are 20 cells (0.49 rad) from the axis
    cells = _run(objs, eta, phi, rng, grid=GridSpec(sizes), mu=mu)[geo.L2]
    far = np.concatenate([cells.energy[:, [0, -1]][:, :, [0, -1]].reshape(-1)])
    el, pu = noise_sigmas(geo.L2, np.abs(cells.grid.eta_centres[:, [0, -1]]))
    sigma = np.sqrt(el**2 + pu**2 * mu / 40).mean()
    assert abs(far.mean()) < 3 * sigma / np.sqrt(far.size)
    assert far.std() == pytest.approx(sigma, rel=3 / np.sqrt(2 * far.size) + 0.01)
    assert np.any(far < 0)


# --- §2.7 test 11: energy bookkeeping ------------------------------------------------------------
def test_image_energy_bookkeeping() -> None:
    rng = np.random.default_rng(15)
    objs, eta, phi, _ = _photons(rng, 2000, 50.0, 0.0, 1.3, unconverted_only=False)
    s = _layer_sums(_run(objs, eta, phi, rng))
    ratio = (s[geo.L1] + s[geo.L2] + s[geo.L3]) / 50.0
    assert 0.85 <= ratio.mean() <= 1.0 and 0.85 <= np.median(ratio) <= 1.0


def test_energy_conservation_in_large_windows() -> None:
    """Σ E = E_up + E_PS,dep + Σ(L1–L3 in wide windows) + E_leak_long (no lateral loss, |η| < 1.3)."""
    rng = np.random.default_rng(16)
    n = 200
    objs, eta, phi, unconverted = _photons(rng, n, 30.0, 0.0, 1.3)  # no bent soft legs
    sizes = {geo.PS: (41, 9), geo.L1: (320, 9), geo.L2: (41, 41), geo.L3: (21, 41)}
    sizes.update({h: (3, 3) for h in geo.HAD_LAYERS})
    keep = (np.abs(eta) < 1.2) & unconverted  # all layers exist around the shower
    c = _run(objs, eta, phi, rng, grid=GridSpec(sizes), knobs=CaloKnobs(kappa_pre=0.0))
    s = _layer_sums(c)
    total = c.E_up + c.E_PS_dep + s[geo.L1] + s[geo.L2] + s[geo.L3] + c.E_leak_long
    np.testing.assert_allclose(total[keep], 30.0, rtol=0.01)
    np.testing.assert_allclose(s[geo.PS][keep], 10.0 * c.E_PS_dep[keep], rtol=0.01, atol=1e-4)
    assert np.all(c.E_up >= -1e-5) and np.all(c.E_PS_L1_dead <= c.E_up + 1e-5)


# --- response: missing cells, detector instance, determinism -------------------------------------
def test_nonexistent_cells_are_exactly_zero() -> None:
    rng = np.random.default_rng(17)
    n = 50
    eta = np.full(n, 1.43, F32)
    phi = rng.uniform(-3, 3, n).astype(F32)
    objs = EMObjects(
        np.full((n, 1), 40.0), eta[:, None], phi[:, None], np.full((n, 1), 5.0), np.ones((n, 1), bool)
    )
    c = _run(objs, eta, phi, rng)
    for layer in (geo.L1, geo.L2, geo.L3):
        missing = ~c[layer].exists
        assert missing.any()
        assert np.all(c[layer].energy[missing] == 0) and np.all(c[layer].noise_sigma[missing] == 0)
    centres = np.broadcast_to(c[geo.L1].grid.eta_centres[:, :, None], c[geo.L1].exists.shape)
    gap = (centres > 1.4) & (centres < 1.475)
    assert gap.any() and not c[geo.L1].exists[gap].any()  # strips at 1.4–1.475 do not exist
    assert c.E_leak_long.mean() > 0.1 * 40.0  # their energy counts as leakage


def test_detector_instance_maps() -> None:
    a, b = DetectorInstance.from_seed(7), DetectorInstance.from_seed(7)
    np.testing.assert_array_equal(a.m_cell[geo.L2], b.m_cell[geo.L2])
    assert not np.array_equal(a.m_reg, DetectorInstance.from_seed(8).m_reg)
    assert np.std(a.m_cell[geo.L1]) == pytest.approx(0.005, rel=0.02)
    assert np.std(a.m_reg) == pytest.approx(0.0064, rel=0.25)
    with pytest.raises(ValueError, match="seed"):
        DetectorInstance.from_seed(-1)


def test_deterministic_and_shifts() -> None:
    objs, eta, phi, _ = _photons(np.random.default_rng(18), 100, 20.0, 0.0, 2.3, unconverted_only=False)
    c1 = _run(objs, eta, phi, np.random.default_rng(3))
    c2 = _run(objs, eta, phi, np.random.default_rng(3))
    np.testing.assert_array_equal(c1[geo.L2].energy, c2[geo.L2].energy)
    assert c1[geo.L2].energy.dtype == np.float32
    knobs = CaloKnobs.from_gen_config(GenConfig(shift=Shift.named("noise"), knobs={"k_T": 1.4, "w_PS": 8.0}))
    assert knobs.noise_scale == pytest.approx(1.1) and knobs.k_T[geo.L2] == 1.4 and knobs.w_PS == 8.0
    c3 = _run(objs, eta, phi, np.random.default_rng(3), knobs=CaloKnobs(noise_scale=1.1))
    np.testing.assert_allclose(c3[geo.L2].noise_sigma, 1.1 * c1[geo.L2].noise_sigma, rtol=1e-5)
    with pytest.raises(ValueError, match="mu"):
        _run(objs, eta[:10], phi[:10], np.random.default_rng(3))


# --- hadrons (§1.6) ------------------------------------------------------------------------------
def test_charged_hadrons_deposit_late_and_broad() -> None:
    rng = np.random.default_rng(19)
    n = 2000
    eta = rng.uniform(-0.6, 0.6, n).astype(F32)
    phi = rng.uniform(-3, 3, n).astype(F32)
    had = HadronObjects(np.full((n, 1), 50.0), eta[:, None], phi[:, None], np.ones((n, 1), bool))
    c = _run(EMObjects.empty(n), eta, phi, rng, had=had)
    s = _layer_sums(c)
    hadronic = s[geo.HAD1] + s[geo.HAD2] + s[geo.HAD3]
    em = s[geo.L1] + s[geo.L2] + s[geo.L3]
    assert np.median(hadronic / (em + hadronic)) > 0.1  # Rhad ≫ photons
    assert np.median(s[geo.L3] / em) > 0.02  # f3 larger than for photons (~0.005)
    assert np.all(c.E_had_dep + c.E_em_true <= 50.0 + 0.25 + 1e-3)
    # non-interacting charged hadrons leave a MIP in the EM layers; neutral ones leave nothing there
    neutral = HadronObjects(had.E, had.eta, had.phi, had.mask, np.zeros((n, 1), bool))
    cn = _run(EMObjects.empty(n), eta, phi, np.random.default_rng(19), had=neutral)
    sn = _layer_sums(cn)
    assert np.mean(sn[geo.L2] == 0) > 0.2 and np.mean(s[geo.L2] == 0) < 0.01
