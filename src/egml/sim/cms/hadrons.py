"""Charged and neutral hadrons in the CMS crystals and HCAL (PHYSICS.md §1.6 "Charged hadron in the
calorimeter", with PbWO4 depths).

First interaction t_int ~ Exp(1) in λ; the crystals are 25.8 X0 = 1.13 λ deep. A hadron that does
not interact leaves a MIP (dE/dx_min·length = 10.2 MeV/cm × 23 cm ≈ 0.235 GeV [K: PDG]) in one
crystal and the rest in the HCAL. An interacting one sends f_em ~ Beta(2, 3) into an EM
sub-shower starting at t_int (in X0) and the rest into a broad deposit (σ = 0.06) whose share
inside the crystals, 1 − exp(−(1.13 λ − t_int)/λ), is seen with h/e = 0.75; the remainder
reaches the HCAL (H/E, neutral isolation).
"""

from __future__ import annotations

import numpy as np

from egml.sim.cms.geometry import CRYSTAL_DEPTH_LAMBDA, LAMBDA_INT_MM, X0_MM
from egml.sim.cms.objects import EMShowers, HadronDeposits

F32 = np.float32
MIP_GEV = 0.235
H_OVER_E = 0.75  # §1.6
HAD_SIGMA = 0.06  # lateral σ of the hadronic deposit in η/φ units (§1.6)
MIP_SIGMA = 0.004  # a MIP stays in the crossed crystal (sub-crystal Gaussian)
EARLY_T_INT_MEAN = 0.1  # λ: "single charged hadron with an early EM-like shower" (§1.6) [K]


def hadron_showers(
    E: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mask: np.ndarray,
    u: np.ndarray,
    f_em: np.ndarray,
    early: np.ndarray | None = None,
) -> tuple[EMShowers, HadronDeposits]:
    """Hadrons (N, K) → EM sub-showers (N, K) and broad/MIP deposits (N, K).

    ``u`` (N, K) uniform (interaction depth) and ``f_em`` (N, K) ~ Beta(2, 3), fixed shape.
    ``early`` (N, K) bool marks hadrons forced to interact early (mean depth 0.1 λ).
    """
    t_int = -np.log(np.maximum(u, 1e-30))
    if early is not None:
        t_int = np.where(early, EARLY_T_INT_MEAN * t_int, t_int)
    inter = mask & (t_int < CRYSTAL_DEPTH_LAMBDA)
    e_em = np.where(inter, E * f_em, 0).astype(F32)
    rest = E - e_em
    g = np.where(inter, 1 - np.exp(-(CRYSTAL_DEPTH_LAMBDA - t_int)), 0)
    mip = np.minimum(E, MIP_GEV)
    e_ecal = np.where(inter, H_OVER_E * g * rest, mip)
    e_hcal = np.where(inter, (1 - g) * rest, E - mip)
    em = EMShowers(
        E=e_em,
        eta=eta.astype(F32),
        phi=phi.astype(F32),
        t0=(t_int * LAMBDA_INT_MM / X0_MM).astype(F32),
        mask=inter & (e_em > 0),
    )
    had = HadronDeposits(
        E_ecal=np.where(mask, e_ecal, 0).astype(F32),
        E_hcal=np.where(mask, e_hcal, 0).astype(F32),
        eta=eta.astype(F32),
        phi=phi.astype(F32),
        sigma=np.where(inter, HAD_SIGMA, MIP_SIGMA).astype(F32),
        mask=mask.copy(),
    )
    return em, had
