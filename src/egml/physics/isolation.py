"""Photon isolation: topoetcone/ptcone pieces and the FixedCut working points (PHYSICS.md §1.7).

Cone sums are built from simulated deposits outside the image window: the candidate's own
lateral tail (analytic two-component profile), underlying event, pileup and the jet
fragments (points at EM-scale response). The random pieces arrive as standard-normal and
uniform draws made by the caller with fixed shapes (§0 rule 5). Energies in GeV.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

F32 = np.float32

# 5 × 7 L2-cell core removed from the cone: 0.125 (η) × 0.172 (φ) [§1.7]
CORE_DETA = 5 * 0.025
CORE_DPHI = 7 * 2 * np.pi / 256
CORE_AREA = CORE_DETA * CORE_DPHI
UE_DENSITY = 0.6  # GeV per unit η–φ area, underlying event [K, §1.7]
PU_DENSITY_PER_MU = 0.20  # GeV per unit area per interaction [K, §1.7]
PU_SIGMA_COEF = 0.37  # σ = 0.37·√(A·μ) GeV [K, §1.7]
RHO_MEAS_SPREAD = 0.1  # ρ_meas = ρ_true·(1 + 0.1·N(0,1)) [K, §8 knob]
TRACK_PT_MIN = 1.0  # GeV, ptcone track threshold [§1.7]
UE_TRACKS_PER_AREA = 1.0  # Poisson mean per unit area [K]
UE_TRACK_MEAN_PT = 1.5  # GeV, exponential spectrum [K]
PU_TRACKS_PER_MU_AREA = 0.01  # pileup tracks passing vertex association [K]


def cone_area(r: float) -> float:
    """η–φ area of a cone of radius r minus the 5×7 core."""
    return float(np.pi * r * r - CORE_AREA)


def rho_true(mu: np.ndarray) -> np.ndarray:
    """Event E_T density (UE + pileup), GeV per unit area."""
    return (UE_DENSITY + PU_DENSITY_PER_MU * np.asarray(mu, F32)).astype(F32)


def _corner_g(x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """G(X, Y; R) of §1.4: integral of R²/[π(x²+y²+R²)²] over [0, X] × [0, Y]."""
    a = np.sqrt(x * x + r * r)
    b = np.sqrt(y * y + r * r)
    return (x / a * np.arctan(y / a) + y / b * np.arctan(x / b)) / (2 * np.pi)


def core_fraction(deta: np.ndarray, dphi: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Fraction of a one-component profile of ``radius`` (η–φ units) centred at offset
    (deta, dphi) from the cone axis that falls in the 5×7 core."""
    x0, x1 = -0.5 * CORE_DETA - deta, 0.5 * CORE_DETA - deta
    y0, y1 = -0.5 * CORE_DPHI - dphi, 0.5 * CORE_DPHI - dphi
    g = _corner_g
    return (g(x1, y1, radius) - g(x0, y1, radius) - g(x1, y0, radius) + g(x0, y0, radius)).astype(F32)


def own_leakage(
    et: np.ndarray,
    deta: np.ndarray,
    dphi: np.ndarray,
    r_core: np.ndarray,
    r_tail: np.ndarray,
    p_core: np.ndarray,
    cone: float,
    core: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Σ over the candidate's own EM objects of E_T × (disk fraction r²/(r²+R²) − core fraction),
    per component (§1.7 (i)). All inputs (N, K), radii in η–φ units; padded slots have et = 0.
    The disk is taken as centred on the object (offsets ≪ cone radius). core: the two
    components' ``core_fraction`` if already computed (they do not depend on the cone)."""
    r2 = cone * cone
    if core is None:
        core = (core_fraction(deta, dphi, r_core), core_fraction(deta, dphi, r_tail))
    leak = np.zeros_like(et, dtype=F32)
    for w, rad, fc in ((p_core, r_core, core[0]), (1 - p_core, r_tail, core[1])):
        leak += w * (r2 / (r2 + rad * rad) - fc)
    return (et * leak).sum(axis=1).astype(F32)


def point_deposits(
    et: np.ndarray, deta: np.ndarray, dphi: np.ndarray, mask: np.ndarray, cone: float
) -> np.ndarray:
    """Σ E_T of other objects (points) inside the cone but outside the core, per candidate."""
    in_cone = (deta * deta + dphi * dphi) < cone * cone
    in_core = (np.abs(deta) < 0.5 * CORE_DETA) & (np.abs(dphi) < 0.5 * CORE_DPHI)
    return np.where(mask & in_cone & ~in_core, et, 0).sum(axis=1).astype(F32)


def ue_pileup_et(mu: np.ndarray, area: float, z: np.ndarray) -> np.ndarray:
    """UE + pileup E_T in an area: mean ρ_true·A, pileup fluctuation 0.37·√(Aμ)·z (§1.7 ii–iii)."""
    mu = np.asarray(mu, F32)
    return (rho_true(mu) * area + PU_SIGMA_COEF * np.sqrt(area * mu) * z).astype(F32)


def rho_measured(mu: np.ndarray, z: np.ndarray) -> np.ndarray:
    """ρ_meas = ρ_true·(1 + 0.1·z): the density the pileup correction subtracts."""
    return (rho_true(mu) * (1 + RHO_MEAS_SPREAD * z)).astype(F32)


def track_cone_sum(pt: np.ndarray, dr: np.ndarray, mask: np.ndarray, cone: float) -> np.ndarray:
    """ptcone: Σ p_T of tracks with p_T > 1 GeV and ΔR < cone (the caller excludes the
    candidate's conversion tracks)."""
    return np.where(mask & (pt > TRACK_PT_MIN) & (dr < cone), pt, 0).sum(axis=1).astype(F32)


def fixed_cut_working_points(
    pt: np.ndarray, topoetcone20: np.ndarray, topoetcone40: np.ndarray, ptcone20: np.ndarray
) -> dict[str, np.ndarray]:
    """Photon FixedCut isolation decisions [S:10]; p_T and cone sums in GeV
    (the MeV formula topoetcone40 < 0.022·p_T + 2450 MeV becomes 0.022·p_T + 2.45 GeV)."""
    calo_tight = topoetcone40 < 0.022 * pt + 2.45
    track = ptcone20 < 0.05 * pt
    return {
        "FixedCutTight": calo_tight & track,
        "FixedCutLoose": (topoetcone20 < 0.065 * pt) & track,
        "FixedCutTightCaloOnly": calo_tight,
    }


def gaussian_leakage(
    et: np.ndarray, sigma: float, deta: np.ndarray, dphi: np.ndarray, cone: float
) -> np.ndarray:
    """E_T × (disk fraction − core fraction) of circular Gaussian deposits of width σ (η–φ units),
    e.g. the broad hadronic deposit of a hadron (§1.6); (N, K) inputs, summed over K."""

    s = np.float32(sigma * np.sqrt(2))
    disk = 1 - np.exp(-(cone * cone) / (2 * sigma * sigma))
    core = (
        0.25
        * (erf((0.5 * CORE_DETA - deta) / s) + erf((0.5 * CORE_DETA + deta) / s))
        * (erf((0.5 * CORE_DPHI - dphi) / s) + erf((0.5 * CORE_DPHI + dphi) / s))
    )
    return (et * (disk - core)).sum(axis=1).astype(F32)
