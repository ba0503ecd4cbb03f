"""ATLAS upstream material, photon conversions and magnetic bending (PHYSICS.md §1.3 [K]).

X_conv(|η|) is the material inside the conversion volume R < 800 mm (also X_ID for electrons,
§3); X_up(|η|) all material in front of the accordion. Both are interpolated linearly in |η|,
held constant beyond 2.37, and scaled by ``mat_scale`` (§0 rule 6 material shift).
"""

from __future__ import annotations

import numpy as np

F32 = np.float32

# --- material tables (§1.3 [K]) ------------------------------------------------------------------
ETA_KNOTS = np.array([0.0, 0.6, 1.0, 1.3, 1.52, 1.8, 2.1, 2.37])
X_CONV_KNOTS = np.array([0.30, 0.33, 0.45, 0.65, 1.35, 1.35, 0.90, 0.80])  # X0
X_UP_KNOTS = np.array([2.3, 2.6, 3.4, 4.6, 5.5, 4.3, 3.6, 3.0])  # X0
PAIR_MFP = 9.0 / 7.0  # photon conversion mean free path in X0: P_conv = 1 − exp(−7X/9)
PS_TO_ACCORDION = 0.4  # X0 between the PS and the accordion: X_PS = X_up − 0.4 (§1.3)

# --- radial material profile inside R < 800 mm (§1.3 radii; relative weights [K]) ----------------
# Thin layers are spread over ±1.5 mm; the TRT is uniform over 554–800 mm.
_THIN_RADII = np.array([24.0, 33.0, 50.5, 88.5, 122.5, 230.0, 299.0, 371.0, 443.0, 514.0])  # mm
_THIN_WEIGHTS = np.array([0.03, 0.05, 0.07, 0.07, 0.07, 0.12, 0.08, 0.08, 0.08, 0.08])
_TRT_RANGE, _TRT_WEIGHT = (554.0, 800.0), 0.27
_HALF_THICK = 1.5


def _radial_cdf_knots() -> tuple[np.ndarray, np.ndarray]:
    r, c = [0.0], [0.0]
    total = _THIN_WEIGHTS.sum() + _TRT_WEIGHT
    acc = 0.0
    for radius, w in zip(_THIN_RADII, _THIN_WEIGHTS):
        r += [radius - _HALF_THICK, radius + _HALF_THICK]
        c += [acc, acc + w / total]
        acc += w / total
    r += [_TRT_RANGE[0], _TRT_RANGE[1]]
    c += [acc, 1.0]
    return np.array(r), np.array(c)


RADIAL_R_KNOTS, RADIAL_CDF_KNOTS = _radial_cdf_knots()
R_CONV_MAX = 800.0  # mm, conversion-reconstruction volume

# --- conversion reconstruction (§1.3 [K]) -------------------------------------------------------
RECO_EFF_EDGES = np.array([300.0, 550.0])  # mm
RECO_EFF_VALUES = np.array([0.90, 0.70, 0.40])
FAKE_CONVERSION_RATE = 0.02
DOUBLE_TRACK_MIN_PT = 0.5  # GeV, softer leg
SI_MAX_RADIUS = 550.0  # mm: Si tracks need R < 550 mm
# xAOD conversion types
UNCONVERTED, SINGLE_SI, SINGLE_TRT, DOUBLE_SI, DOUBLE_TRT, DOUBLE_SI_TRT = 0, 1, 2, 3, 4, 5
DOUBLE_SI_TRT_FRACTION = 0.2  # [K] share of Si double-track conversions with one TRT-only leg

# --- magnetic field (§1.3) -----------------------------------------------------------------------
B_FIELD_T = 2.0
R_FIELD_M = 1.2  # field radius R_B
Z_FIELD_M = 2.65  # endcap: R_B,eff = min(R_B, 2.65 m/|sinh η|)
KAPPA_PER_T_GEV = 0.3  # κ = 0.3·B/p_T in m⁻¹


def _interp(abs_eta: np.ndarray, knots: np.ndarray, mat_scale: float) -> np.ndarray:
    a = np.asarray(abs_eta, dtype=np.float64)
    if np.any(~np.isfinite(a)):
        raise ValueError("material: |η| must be finite")
    if mat_scale <= 0:
        raise ValueError(f"material: mat_scale must be positive, got {mat_scale}")
    return (np.interp(np.abs(a), ETA_KNOTS, knots) * mat_scale).astype(F32)


def X_conv(abs_eta: np.ndarray, mat_scale: float = 1.0) -> np.ndarray:
    """Material (X0) inside R < 800 mm at |η|; also the ID material X_ID of electrons (§1.3, §3)."""
    return _interp(abs_eta, X_CONV_KNOTS, mat_scale)


def X_up(abs_eta: np.ndarray, mat_scale: float = 1.0) -> np.ndarray:
    """Total material (X0) in front of the accordion at |η| (§1.3)."""
    return _interp(abs_eta, X_UP_KNOTS, mat_scale)


def X_PS(abs_eta: np.ndarray, mat_scale: float = 1.0) -> np.ndarray:
    """Depth (X0) of the presampler's front face: X_up − 0.4 (§1.3)."""
    return (X_up(abs_eta, mat_scale) - F32(PS_TO_ACCORDION)).astype(F32)


def conversion_probability(x: np.ndarray) -> np.ndarray:
    """P_conv = 1 − exp(−7X/9) for X in X0 (§1.3)."""
    return (-np.expm1(-np.asarray(x, dtype=F32) / F32(PAIR_MFP))).astype(F32)


def conversion_depth(u: np.ndarray) -> np.ndarray:
    """Photon conversion depth X_c = −(9/7)·ln U (X0 from the first material), U ∈ (0, 1]."""
    u = np.asarray(u, dtype=np.float64)
    return (-PAIR_MFP * np.log(np.clip(u, 1e-300, 1.0))).astype(F32)


def radius_at_material_fraction(f: np.ndarray) -> np.ndarray:
    """R (mm) at which a fraction f ∈ [0, 1] of X_conv has been crossed (inverse radial CDF, §1.3)."""
    return np.interp(np.asarray(f, dtype=np.float64), RADIAL_CDF_KNOTS, RADIAL_R_KNOTS).astype(F32)


def material_fraction_at_radius(R: np.ndarray) -> np.ndarray:
    """Fraction of X_conv crossed up to radius R (mm): X(R) = X_conv·fraction (brem start, §3)."""
    return np.interp(np.asarray(R, dtype=np.float64), RADIAL_R_KNOTS, RADIAL_CDF_KNOTS).astype(F32)


def reconstruction_efficiency(R: np.ndarray) -> np.ndarray:
    """Conversion reconstruction efficiency: 0.90 (R < 300 mm), 0.70 (300–550), 0.40 (550–800)."""
    return RECO_EFF_VALUES[np.searchsorted(RECO_EFF_EDGES, np.asarray(R), side="right")].astype(F32)


def pair_energy_share(u: np.ndarray) -> np.ndarray:
    """x ∈ [0, 1] from dσ/dx ∝ 1 − (4/3)x(1−x) (complete screening) by inverse CDF of U (§1.3).

    CDF(x) = (9/7)[x − (2/3)x² + (4/9)x³] = u is, with x = t + ½, the depressed cubic
    t³ + 1.5t + q = 0, q = 7/8 − 7u/4, whose one real root is Cardano's formula.
    """
    u = np.asarray(u, dtype=np.float64)
    q = 0.875 - 1.75 * u
    d = np.sqrt(0.25 * q * q + 0.125)  # √(q²/4 + p³/27) with p = 1.5
    x = np.clip(np.cbrt(-0.5 * q + d) + np.cbrt(-0.5 * q - d) + 0.5, 0.0, 1.0)
    return x.astype(F32)


def calo_radius_m(
    abs_eta: np.ndarray, r_layer_mm: float, z_layer_mm: float, barrel_limit: float = 1.475
) -> np.ndarray:
    """Transverse radius R_L (m) where direction |η| meets a layer: R_L or |z_L|/|sinh η| (§1.3)."""
    a = np.asarray(abs_eta, dtype=F32)
    sh = np.maximum(np.sinh(a), F32(1e-6))
    return (np.where(a < barrel_limit, F32(r_layer_mm), F32(z_layer_mm) / sh) / 1000).astype(F32, copy=False)


def bend_dphi(
    R_c: np.ndarray,
    R_L: np.ndarray,
    pT: np.ndarray,
    q: np.ndarray,
    abs_eta: np.ndarray | None = None,
    B: float = B_FIELD_T,
    R_B: float = R_FIELD_M,
) -> np.ndarray:
    """Signed azimuthal displacement (rad) at calorimeter radius R_L (m) of a charge q made at R_c (m).

    Δφ = −q·(κ/R_L)[s_B²/2 + s_B(R_L − R_B)], κ = 0.3·B/p_T (m⁻¹), s_B = max(R_B − R_c, 0) (§1.3).
    Sign: the solenoid field points along +z, so a positive charge turns towards decreasing φ.
    With abs_eta the endcap field radius R_B,eff = min(R_B, 2.65 m/|sinh η|) is used.
    Accurate to first order in κ·R (small bends); |Δφ| ≈ 0.46/p_T at R_c = 0, R_L = 1.68 m.
    """
    pT = np.asarray(pT, dtype=F32)
    if np.any(pT <= 0):
        raise ValueError("bend_dphi: p_T must be positive (GeV)")
    R_B_eff = np.asarray(R_B, dtype=F32)
    if abs_eta is not None:
        sh = np.maximum(np.sinh(np.abs(np.asarray(abs_eta, dtype=F32))), F32(1e-6))
        R_B_eff = np.minimum(R_B_eff, F32(Z_FIELD_M) / sh)
    kappa = F32(KAPPA_PER_T_GEV * B) / pT
    s_B = np.maximum(R_B_eff - np.asarray(R_c, dtype=F32), 0)
    R_L = np.asarray(R_L, dtype=F32)
    dphi = kappa / R_L * (s_B**2 / 2 + s_B * (R_L - R_B_eff))
    return (-np.sign(np.asarray(q, dtype=F32)) * dphi).astype(F32)
