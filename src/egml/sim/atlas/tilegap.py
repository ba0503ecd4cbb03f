"""TileGap3 scintillator cells for the T4 calibration task (PHYSICS.md §5: cl_E_TileGap3, layer 4).

The E4 scintillators sit behind the barrel–endcap transition, 1.4 < |η| < 1.6, in two η cells
of 0.1 and φ cells of 2π/64 [K]. PHYSICS.md names the branch but not a response model, so this
one is [K]: the scintillator samples the energy that the EM showers deposit in the transition's
dead region, i.e. the expected deposits λ_c of the *non-existent* L1–L3 cells (strips at
1.4–1.475, L2 at 1.4–1.425, back cells at 1.35–1.5, which the calorimeter model counts as
leakage). Each TileGap3 cell collects W_TG3 times the dead deposit whose cell centre falls in
its φ range and, in η, on its side of |η| = 1.5 (dead cells below 1.4 feed the first cell).
Response: m = 1, stochastic term A_TG3, noise of the Tile A row of §1.5 (25 MeV ⊕ 50 MeV·√(μ/40)).
"""

from __future__ import annotations

import numpy as np

from egml.sim.atlas import geometry as geo

F32 = np.float32
TG3_ETA_EDGES = (1.4, 1.5, 1.6)  # |η| edges of the two TileGap3 cells [K]
TG3_DPHI = 2 * np.pi / 64
W_TG3 = 0.5  # [K] EM-scale fraction of the dead-region deposit seen by the scintillator
A_TG3 = 0.5  # [K] stochastic term (GeV^½) of the thin scintillator
SIGMA_EL_TG3 = 0.025  # GeV, Tile A electronic noise (§1.5 table, barrel)
SIGMA_PU_TG3 = 0.050  # GeV at μ = 40 (§1.5 table, Tile A barrel)
MU_REF = 40.0


def tilegap_grid(axis_eta: np.ndarray, axis_phi: np.ndarray, n_phi: int) -> tuple[np.ndarray, np.ndarray]:
    """(eta_edges (N, 3), phi_edges (N, n_phi+1)): the two cells on the axis' side, φ cells around it."""
    sign = np.where(axis_eta < 0, -1.0, 1.0)[:, None]
    edges = np.asarray(TG3_ETA_EDGES)[None, :] * sign
    eta_edges = np.sort(edges, axis=1).astype(F32)
    ip0 = np.floor((axis_phi + np.pi) / TG3_DPHI - n_phi / 2 + 0.5).astype(np.int64)
    phi_edges = (-np.pi + (ip0[:, None] + np.arange(n_phi + 1)) * TG3_DPHI).astype(F32)
    return eta_edges, phi_edges


def dead_deposits(
    dead_lam: list[np.ndarray],
    dead_eta: list[np.ndarray],
    dead_phi: list[np.ndarray],
    eta_edges: np.ndarray,
    phi_edges: np.ndarray,
) -> np.ndarray:
    """λ_TG3 (N, 2, n_phi): W_TG3 × the dead-cell deposits mapped onto the TileGap3 cells.

    dead_lam[i] (N, nη, nφ) is λ of the non-existent cells of one EM layer (0 elsewhere),
    dead_eta[i] (N, nη) and dead_phi[i] (N, nφ) their centres (φ continuous like phi_edges).
    """
    n, n_phi = phi_edges.shape[0], phi_edges.shape[1] - 1
    out = np.zeros((n, 2 * n_phi), np.float64)
    for lam, eta, phi in zip(dead_lam, dead_eta, dead_phi):
        ie = (np.abs(eta) >= 1.5).astype(np.int64)  # (N, nη)
        rel = (phi - phi_edges[:, :1] + np.pi) % (2 * np.pi) - np.pi  # φ past the first TG3 edge
        ip = np.floor(rel / TG3_DPHI).astype(np.int64)  # (N, nφ)
        ok = (ip >= 0) & (ip < n_phi)
        idx = ie[:, :, None] * n_phi + np.clip(ip, 0, n_phi - 1)[:, None, :]
        w = np.where(ok[:, None, :], lam, 0).astype(np.float64)
        flat = (np.arange(n)[:, None, None] * (2 * n_phi) + idx).ravel()
        out += np.bincount(flat, weights=w.ravel(), minlength=out.size).reshape(out.shape)
    return (W_TG3 * out).reshape(n, 2, n_phi).astype(F32)


def tilegap_response(
    expected: np.ndarray,
    exists: np.ndarray,
    mu: np.ndarray,
    rng: np.random.Generator,
    noise_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(energy, noise_el, noise_pu, sigma) of the TileGap3 cells; three fixed-shape normal draws."""
    n1, n2, n3 = rng.standard_normal((3, *expected.shape), dtype=F32)
    s_el = F32(SIGMA_EL_TG3 * noise_scale)
    s_pu = (F32(SIGMA_PU_TG3 * noise_scale) * np.sqrt(np.asarray(mu, F32) / F32(MU_REF)))[:, None, None]
    noise_el = np.where(exists, s_el * n2, 0).astype(F32)
    noise_pu = np.where(exists, s_pu * n3, 0).astype(F32)
    sampled = expected + F32(A_TG3) * np.sqrt(np.maximum(expected, 0)) * n1
    energy = np.where(exists, sampled + noise_el + noise_pu, 0).astype(F32)
    sigma = np.where(exists, np.sqrt(s_el**2 + s_pu**2), 0).astype(F32)
    return energy, noise_el, noise_pu, sigma


TILEGAP_GEOMETRY_LAYER = geo.HAD1  # cell positions at the Tile A radius [K]
