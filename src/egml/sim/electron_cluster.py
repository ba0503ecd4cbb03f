"""Electron cluster reconstruction from simulated cells (PHYSICS.md §1.2 window placement, §2.3).

The calorimeter is simulated in windows around a per-candidate axis that are wider than the
cluster; here the hottest L2 cell is found in the central 7×7 cells, the 7×11 middle window is
cut around it, and the layer sums, strip array and hadronic sums are taken in the cluster area
(3×7 L2 cells barrel, 5×5 endcap). The shower shapes themselves come from
``egml.physics.shower_shapes`` (one definition, shared with T1).
"""

from __future__ import annotations

import numpy as np

from egml.physics import shower_shapes as ss
from egml.sim.atlas.calorimeter import CaloCells
from egml.sim.atlas.geometry import BARREL_EDGE, DPHI, HAD1, HAD2, HAD3, L1, L2, L3, PS

F32 = np.float32

# simulated windows (n_η, n_φ) in native cells: wide enough for the hot-cell search plus the 7×11
# middle window and the ±0.0625 strip window around any searched cell. Departure from §1.2: the
# search covers the central 5×5 L2 cells (not 7×7) so that 72 barrel strips suffice; the window
# axis is held at |η| ≤ 2.35 so that the strip window stays inside the cell tables.
WINDOWS = {PS: (13, 5), L1: (72, 4), L2: (13, 17), L3: (8, 17), HAD1: (5, 5), HAD2: (5, 5), HAD3: (5, 5)}
SEARCH = 5  # hot-cell search size (L2 cells, η and φ)
AXIS_ETA_MAX = 2.35
RHAD_HALF = 0.12  # hadronic cells with centres within ±0.12 of (η₂, φ₂) (§1.5)
STRIP_BARYCENTRE_HALF = 1.5 * ss.L2_DETA  # strips in η₂ ± 1.5 L2 cells give η of the strip layer


# MC-based electron energy scale [K]. ATLAS calibrates electron clusters to the e± hypothesis
# before E/p, Δφres and E_T are formed (§3: PE "E/p ≈ 1"; PC "E/p = 1/x"); the EM-scale sum
# misses the upstream loss, leakage and brem outside the cluster (response ≈ 0.73–0.93). Like
# the ATLAS regression (§5: r = E_true/ΣE, least squares), the table is 1/⟨r⟩ with r clipped to
# [0.5, 2], from generated prompt electrons (T2 process PE, before this calibration; master
# seed 101, 24 blocks of 2048; about 60–480 per cell) per |η₂| bin (lower edges)
# and EM-scale E_T,cl (3–10, 10–20, 20–50, 50–150, > 150 GeV; interpolated linearly in ln E_T
# between the listed points, held beyond them). The crack row copies 1.15–1.37. Re-derive it
# if the calorimeter response changes (the PE E/p test checks it).
CALIB_ETA_LOW = np.array([0.0, 0.4, 0.8, 1.0, 1.15, 1.37, 1.52, 1.8, 2.0, 2.2], F32)
CALIB_ET_GEV = np.array([5.5, 14.1, 31.6, 86.6, 400.0], F32)
CALIB_RESPONSE = np.array(
    [
        [0.842, 0.902, 0.922, 0.927, 0.921],
        [0.841, 0.895, 0.920, 0.925, 0.923],
        [0.788, 0.876, 0.903, 0.911, 0.912],
        [0.758, 0.843, 0.889, 0.901, 0.909],
        [0.729, 0.835, 0.865, 0.887, 0.902],
        [0.729, 0.835, 0.865, 0.887, 0.902],
        [0.759, 0.842, 0.894, 0.915, 0.927],
        [0.776, 0.856, 0.888, 0.905, 0.907],
        [0.809, 0.852, 0.875, 0.881, 0.881],
        [0.764, 0.802, 0.817, 0.799, 0.821],
    ],
    F32,
)


def calibrated_energy(e_em: np.ndarray, eta2: np.ndarray) -> np.ndarray:
    """Cluster energy at the electron scale: EM-scale E divided by the tabulated e± response."""
    e_em = np.asarray(e_em, F32)
    a = np.abs(np.asarray(eta2, F32))
    row = np.clip(np.searchsorted(CALIB_ETA_LOW, a, side="right") - 1, 0, len(CALIB_ETA_LOW) - 1)
    x = np.log(np.clip(np.maximum(e_em, F32(1e-3)) / np.cosh(a), CALIB_ET_GEV[0], CALIB_ET_GEV[-1]))
    knots = np.log(CALIB_ET_GEV)
    j = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, len(knots) - 2)
    t = (x - knots[j]) / (knots[j + 1] - knots[j])
    resp = CALIB_RESPONSE[row, j] * (1 - t) + CALIB_RESPONSE[row, j + 1] * t
    return (e_em / resp).astype(F32)


def _wrap(x: np.ndarray) -> np.ndarray:
    return ((x + np.pi) % (2 * np.pi) - np.pi).astype(F32)


def _centres(edges: np.ndarray) -> np.ndarray:
    return (0.5 * (edges[:, 1:] + edges[:, :-1])).astype(F32)


def _area_sum(
    layer_cells, eta0: np.ndarray, phi0: np.ndarray, half_eta: np.ndarray, half_phi: np.ndarray
) -> np.ndarray:
    """Energy of the cells whose centres lie within the cluster area around (η0, φ0)."""
    ce = _centres(layer_cells.eta_edges)
    cp = _centres(layer_cells.phi_edges)
    ine = np.abs(ce - eta0[:, None]) < half_eta[:, None]
    inp = np.abs(_wrap(cp - phi0[:, None])) < half_phi[:, None]
    sel = ine[:, :, None] & inp[:, None, :] & layer_cells.exists
    return np.where(sel, layer_cells.energy, 0).sum(axis=(1, 2)).astype(F32)


def reconstruct_cluster(cells: CaloCells) -> dict[str, np.ndarray]:
    """Cluster position, energy and shower shapes (GeV) of each candidate from its cells."""
    c2 = cells[L2]
    e2 = np.where(c2.exists, c2.energy, 0).astype(F32)
    n, ne, nph = e2.shape
    rows = np.arange(n)
    # hottest L2 cell in the central SEARCH × SEARCH cells
    oe, op = (ne - SEARCH) // 2, (nph - SEARCH) // 2
    search = e2[:, oe : oe + SEARCH, op : op + SEARCH].reshape(n, -1)
    k = np.argmax(search, axis=1)
    ie, ip = oe + k // SEARCH, op + k % SEARCH
    # 7×11 middle window around it (η, φ)
    de = np.arange(-3, 4)
    dp = np.arange(-5, 6)
    ie_w = np.clip(ie[:, None] + de, 0, ne - 1)
    ip_w = np.clip(ip[:, None] + dp, 0, nph - 1)
    win = e2[rows[:, None, None], ie_w[:, :, None], ip_w[:, None, :]]
    eta_c = _centres(c2.eta_edges)[rows[:, None], ie_w]
    phi_c_abs = _centres(c2.phi_edges)[rows[:, None], ip_w]
    phi_ref = phi_c_abs[:, 5]
    phi_c = (phi_ref[:, None] + _wrap(phi_c_abs - phi_ref[:, None])).astype(F32)
    eta_max, phi_max = eta_c[:, 3], phi_ref
    endcap = np.abs(eta_max) >= BARREL_EDGE
    mid = ss.middle_shapes(win, eta_c, phi_c, endcap)
    eta2, phi2 = mid["eta2"], _wrap(mid["phi2"])
    weta2 = ss.weta2_corrected(mid["weta2_raw"], eta2, eta_max)

    # cluster area: 3×7 (barrel) or 5×5 (endcap) L2 cells around the hottest cell
    half_eta = np.where(endcap, F32(2.5 * ss.L2_DETA), F32(1.5 * ss.L2_DETA))
    half_phi = np.where(endcap, F32(2.5 * DPHI[L2]), F32(3.5 * DPHI[L2]))
    e0 = _area_sum(cells[PS], eta_max, phi_max, half_eta, half_phi)
    e1 = _area_sum(cells[L1], eta_max, phi_max, half_eta, half_phi)
    e2c = _area_sum(c2, eta_max, phi_max, half_eta, half_phi)
    e3 = _area_sum(cells[L3], eta_max, phi_max, half_eta, half_phi)
    e_clus = (e0 + e1 + e2c + e3).astype(F32)
    f1, f3 = ss.layer_fractions(e0, e1, e2c, e3)

    # strip array: native strips in η_max ± 0.0625, summed over the two φ cells nearest φ_max
    c1 = cells[L1]
    s_eta = _centres(c1.eta_edges)
    s_width = np.diff(c1.eta_edges, axis=1).astype(F32)
    p1 = _centres(c1.phi_edges)
    dphi1 = np.abs(_wrap(p1 - phi_max[:, None]))
    two = np.argsort(dphi1, axis=1)[:, :2]
    e_l1 = np.where(c1.exists, c1.energy, 0).astype(F32)
    strip_e = np.take_along_axis(e_l1, two[:, None, :], axis=2).sum(axis=2)
    valid = (np.abs(s_eta - eta_max[:, None]) <= ss.STRIP_HALF_WINDOW) & c1.exists.any(axis=2)
    undefined = ss.strips_undefined(eta_max, f1)
    strips = ss.strip_shapes(strip_e, s_eta, s_width, valid, eta_max, undefined)
    near = valid & (np.abs(s_eta - eta2[:, None]) <= STRIP_BARYCENTRE_HALF)
    w = np.where(near, np.maximum(strip_e, 0), 0)
    eta_s1 = np.where(w.sum(1) > 0, (w * s_eta).sum(1) / np.maximum(w.sum(1), F32(1e-12)), eta2).astype(F32)

    # hadronic leakage: cells within ±0.12 of (η₂, φ₂)
    rh = np.full(n, F32(RHAD_HALF))
    had1 = _area_sum(cells[HAD1], eta2, phi2, rh, rh)
    had_all = had1 + _area_sum(cells[HAD2], eta2, phi2, rh, rh) + _area_sum(cells[HAD3], eta2, phi2, rh, rh)
    rhad1, rhad = ss.hadronic_leakage(had1, had_all, e_clus)

    return {
        "E": e_clus,
        "eta2": eta2,
        "phi2": phi2,
        "eta_s1": eta_s1,
        "Reta": mid["Reta"],
        "Rphi": mid["Rphi"],
        "weta2": weta2,
        "f1": f1,
        "f3": f3,
        "Rhad1": rhad1,
        "Rhad": rhad,
        "wtots1": strips["wtots1"],
        "Eratio": strips["Eratio"],
        "e277": mid["e277"],
    }
