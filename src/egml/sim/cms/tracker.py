"""CMS tracker: photon conversions in its material, track bending in 3.8 T and impact parameters
(PHYSICS.md §4 detector, §1.3 conversion model with CMS constants). Lengths in mm unless noted.
"""

from __future__ import annotations

import numpy as np

from egml.sim.cms.geometry import R_FRONT_MM
from egml.sim.cms.objects import EMShowers, Tracks

F32 = np.float32
B_TESLA = 3.8  # §4
R_FIELD_M = 1.29  # field radius R_B = ECAL front (§4): the ECAL sits inside the solenoid
X_TRK_ETA0, X_TRK_ETA14 = 0.4, 1.8  # tracker material in X0 at η = 0 and |η| = 1.4, linear (§4)
CONV_PATH_X0 = 9.0 / 7.0  # photon conversion length (§1.3)
# Cumulative radial material profile of the tracker [K: beam pipe, 4 pixel layers, TIB, TOB]
PROFILE_R_MM = np.array([0, 22, 29, 68, 109, 160, 200, 255, 498, 550, 1100, 1150], np.float64)
PROFILE_CDF = np.array([0, 0.03, 0.06, 0.10, 0.14, 0.18, 0.26, 0.30, 0.55, 0.58, 0.95, 1.0])
PIXEL_SEED_R_MM = 109.0  # ≥ 2 pixel hits (layers at 109 and 160 mm) give a pixel seed [K]
TRACK_PT_MIN = 0.5  # GeV, image tracks (§4)
# conversion-leg tracking efficiency vs conversion radius [K, §1.3 values at CMS radii]
LEG_EFF_R_MM = (300.0, 550.0, 800.0)
LEG_EFF = (0.90, 0.70, 0.40, 0.0)
SIGMA_DXY_UM = (20.0, 100.0)  # σ_dxy = 20 μm ⊕ 100 μm/p_T (§4)
SIGMA_DZ_UM = (30.0, 150.0)  # σ_dz = 30 μm ⊕ 150 μm/p_T (§4)


def tracker_material(abs_eta: np.ndarray, mat_scale: float = 1.0) -> np.ndarray:
    """Tracker material in X0 in front of the ECAL."""
    x = X_TRK_ETA0 + (X_TRK_ETA14 - X_TRK_ETA0) * np.clip(abs_eta / 1.4, 0, None)
    return (x * mat_scale).astype(F32)


def pair_fraction(u: np.ndarray, newton_steps: int = 6) -> np.ndarray:
    """x ~ dσ/dx ∝ 1 − (4/3)x(1−x) by inverse CDF, CDF = (9/7)(x − 2x²/3 + 4x³/9) (§1.3)."""
    x = np.asarray(u, np.float64).copy()
    for _ in range(newton_steps):
        cdf = (9 / 7) * (x - 2 * x**2 / 3 + 4 * x**3 / 9)
        pdf = (9 / 7) * (1 - 4 * x / 3 + 4 * x**2 / 3)
        x = np.clip(x - (cdf - u) / pdf, 0.0, 1.0)
    return x.astype(F32)


def bend_dphi(pt: np.ndarray, q: np.ndarray, r_origin_mm: np.ndarray) -> np.ndarray:
    """Azimuthal shift at the ECAL face of a track made at radius r_origin: the exact circle
    from the origin, generalised as in §1.3 with s_B = R_B − R_c (capped at π/2 for loopers)."""
    rho_m = np.maximum(pt, 1e-3) / (0.3 * B_TESLA)
    s_b = np.maximum(R_FIELD_M - r_origin_mm / 1000.0, 0.0)
    arg = np.minimum(s_b / (2 * rho_m), 1.0)
    return (-q * np.arcsin(arg)).astype(F32)


def conversion_dxy_cm(pt: np.ndarray, q: np.ndarray, r_origin_mm: np.ndarray) -> np.ndarray:
    """Transverse impact parameter (cm) of a leg made tangentially at r_origin: √(R²+ρ²) − ρ."""
    rho_mm = np.maximum(pt, 1e-3) / (0.3 * B_TESLA) * 1000.0
    return (-q * (np.sqrt(r_origin_mm**2 + rho_mm**2) - rho_mm) / 10.0).astype(F32)


def smear_impact(dxy: np.ndarray, dz: np.ndarray, pt: np.ndarray, n_xy: np.ndarray, n_z: np.ndarray):
    """Measured dxy, dz (cm) with the §4 resolutions."""
    p = np.maximum(pt, 0.1)
    s_xy = np.hypot(SIGMA_DXY_UM[0], SIGMA_DXY_UM[1] / p) * 1e-4
    s_z = np.hypot(SIGMA_DZ_UM[0], SIGMA_DZ_UM[1] / p) * 1e-4
    return (dxy + s_xy * n_xy).astype(F32), (dz + s_z * n_z).astype(F32)


def convert_photons(
    E: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mask: np.ndarray,
    u: np.ndarray,
    n: np.ndarray,
    mat_scale=1.0,
) -> tuple[EMShowers, Tracks, np.ndarray, np.ndarray]:
    """Photons (N, K) → shower objects (N, 2K) (slot 2k: photon or leg 1, 2k+1: leg 2) and the
    legs' tracks (N, 2K); also returns per photon ``converted`` and ``r_conv`` (mm).

    ``u`` (N, K, 6) uniform and ``n`` (N, K, 4) normal draws, fixed shape (§0 rule 5).
    """
    x_trk = tracker_material(np.abs(eta), mat_scale)
    x_c = -CONV_PATH_X0 * np.log(np.maximum(u[..., 0], 1e-30))
    converted = mask & (x_c < x_trk)
    r_conv = np.interp(np.clip(x_c / x_trk, 0, 1), PROFILE_CDF, PROFILE_R_MM).astype(F32)
    r_conv = np.where(converted, r_conv, 0).astype(F32)
    t0 = np.where(converted, 0.0, x_c - x_trk).astype(F32)  # legs start at the front face
    x = np.where(converted, pair_fraction(u[..., 1]), 1.0).astype(F32)
    e_legs = np.stack([E * x, E * (1 - x)], axis=-1)
    q = np.stack([np.ones_like(E), -np.ones_like(E)], axis=-1) * np.where(u[..., 2:3] < 0.5, 1, -1)
    pt_legs = e_legs / np.cosh(eta)[..., None]
    dphi = bend_dphi(pt_legs, q, np.broadcast_to(r_conv[..., None], q.shape))
    phi_legs = phi[..., None] + np.where(converted[..., None], dphi, 0)
    leg_mask = np.stack([mask, converted], axis=-1)
    shape = (E.shape[0], 2 * E.shape[1])
    em = EMShowers(
        E=e_legs.reshape(shape).astype(F32),
        eta=np.repeat(eta, 2, axis=1).astype(F32),
        phi=phi_legs.reshape(shape).astype(F32),
        t0=np.repeat(t0, 2, axis=1),
        mask=leg_mask.reshape(shape),
    )
    eff = np.select([r_conv < r for r in LEG_EFF_R_MM], LEG_EFF[:3], LEG_EFF[3])
    found = converted[..., None] & (u[..., 3:5] < eff[..., None]) & (pt_legs > TRACK_PT_MIN)
    r_b = np.broadcast_to(r_conv[..., None], q.shape)
    dxy, dz = smear_impact(
        conversion_dxy_cm(pt_legs, q, r_b), np.zeros_like(pt_legs), pt_legs, n[..., :2], n[..., 2:]
    )
    trk = Tracks(
        pt=pt_legs.reshape(shape).astype(F32),
        eta=em.eta,
        phi=np.repeat(phi, 2, axis=1).astype(F32),
        phi_ecal=em.phi,
        dxy=dxy.reshape(shape),
        dz=dz.reshape(shape),
        vertex=np.zeros(shape, np.int32),
        r_origin=r_b.reshape(shape).astype(F32),
        is_conversion=np.ones(shape, bool),
        mask=found.reshape(shape),
    )
    return em, trk, converted, r_conv


def prompt_tracks(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    q: np.ndarray,
    mask: np.ndarray,
    n: np.ndarray,
    vertex: np.ndarray | None = None,
    dz_true: np.ndarray | None = None,
) -> Tracks:
    """Tracks of charged particles from a vertex (R = 0): bending to the ECAL face, resolutions.
    ``n`` (N, K, 2) normal draws; ``dz_true`` (cm) is the vertex offset from the primary vertex."""
    zeros = np.zeros_like(pt, dtype=F32)
    dz0 = zeros if dz_true is None else dz_true
    dxy, dz = smear_impact(zeros, dz0, pt, n[..., 0], n[..., 1])
    return Tracks(
        pt=pt.astype(F32),
        eta=eta.astype(F32),
        phi=phi.astype(F32),
        phi_ecal=(phi + bend_dphi(pt, q, zeros)).astype(F32),
        dxy=dxy,
        dz=dz,
        vertex=np.zeros(pt.shape, np.int32) if vertex is None else vertex.astype(np.int32),
        r_origin=zeros,
        is_conversion=np.zeros(pt.shape, bool),
        mask=mask & (pt > TRACK_PT_MIN),
    )


def ecal_reach(pt: np.ndarray) -> np.ndarray:
    """Charged particles with 2ρ < R_ECAL loop inside the tracker and never reach the ECAL."""
    return 2 * pt / (0.3 * B_TESLA) > R_FRONT_MM / 1000.0
