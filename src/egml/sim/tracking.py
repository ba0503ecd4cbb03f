"""Inner-detector response for T2 (and T4 electrons): brem, track resolutions, impact
parameters, silicon hits and the TRT high-threshold probability (PHYSICS.md §3).

Every function here depends only on the particle species, its kinematics and its origin
radius, never on a class label (§0 rule 3). Inputs are arrays of any common shape; the
uniform/normal variates are passed in so that the caller keeps every draw fixed-shape (§0
rule 5). Lengths in mm, momenta in GeV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

F32 = np.float32

B_FIELD_T = 2.0  # ATLAS solenoid (§1.3)
LN2 = float(np.log(2.0))

# --- silicon layers and hit model (§3 Hits) [K] ------------------------------------------------
PIXEL_RADII_MM = np.array([33.0, 50.5, 88.5, 122.5], dtype=F32)  # IBL + 3 pixel layers
SCT_RADII_MM = np.array([299.0, 371.0, 443.0, 514.0], dtype=F32)
PIXEL_HIT_EFF = 0.985
SCT_HIT_EFF = 0.99
SCT_OVERLAP_MEAN = 0.5  # Poisson mean of overlap hits when the SCT is crossed

# --- resolutions (§3 Tracks, Δη1) [K, ATLAS ID design] -----------------------------------------
CURV_RES_A = 0.0005  # σ(1/p_T)·p_T = 0.05 %·p_T ⊕ 1 %
CURV_RES_B = 0.01
D0_RES_CONST_UM = 10.0  # σ_d0 = √(10² + (80/(p_T √sinθ))²) μm
D0_RES_MS_UM = 80.0
D0_ELECTRON_SCALE = 1.3  # σ_d0 of electrons ×1.3 (brem)
DPP_SMEAR = 0.03  # Δp/p = 1 − z·(1 + N(0, 0.03))
ANGLE_RES_CONST = 0.001  # σ_trk = (0.001 ⊕ 0.01 GeV/p_T)·(1 + 0.3|η|), same for all species
ANGLE_RES_MS_GEV = 0.01
ANGLE_RES_ETA_SLOPE = 0.3

# --- TRT eProbabilityHT (§3) [K] ----------------------------------------------------------------
TRT_ETA_MAX = 2.0  # TRT coverage |η| < 2.0
TRT_CONCENTRATION = 8.0  # a + b of every Beta draw
TRT_ELECTRON_MEAN = 0.80  # e± ~ Beta(6.4, 1.6)
TRT_HADRON_BASE = 0.10  # hadrons: m = 0.10 + 0.15·clip((log10 γ − 2.5)/1.5, 0, 1) + 0.002 μ
TRT_HADRON_TURN_ON = 0.15
TRT_HADRON_MU_SLOPE = 0.002
TRT_NO_INFO = 0.5  # eProbabilityHT of a track without TRT information (no discrimination)

PION_MASS_GEV = 0.13957


def _f32(x: np.ndarray | float) -> np.ndarray:
    return np.asarray(x, dtype=F32)


# --- bremsstrahlung ---------------------------------------------------------------------------
def bethe_heitler_z(u: np.ndarray, x_material: np.ndarray, z_max: np.ndarray | float = 1.0) -> np.ndarray:
    """Energy fraction z kept by an e± after X0 of material (Bethe–Heitler, §3).

    −ln z ~ Gamma(c = X/ln 2), drawn by inverse CDF from ``u`` ~ U(0,1); ⟨z⟩ = e^{−X}. With
    ``z_max`` < 1 the draw is truncated to z < z_max (a forced hard brem; its probability is
    returned by ``bethe_heitler_prob_below``). X ≤ 0 gives z = 1.
    """
    x = np.asarray(x_material, dtype=np.float64)
    c = np.maximum(x / LN2, 1e-6)
    t_min = -np.log(np.clip(np.asarray(z_max, dtype=np.float64), 1e-12, 1.0))
    p_lo = special.gammainc(c, t_min)
    uu = p_lo + np.asarray(u, dtype=np.float64) * (1.0 - p_lo)
    t = special.gammaincinv(c, np.clip(uu, 0.0, 1.0 - 1e-12))
    return np.where(x > 0, np.exp(-t), 1.0).astype(F32)


def bethe_heitler_prob_below(z_max: float, x_material: np.ndarray) -> np.ndarray:
    """P(z < z_max) after X0 of material (the forcing probability of a hard brem)."""
    c = np.maximum(np.asarray(x_material, dtype=np.float64) / LN2, 1e-6)
    return (1.0 - special.gammainc(c, -np.log(z_max))).astype(F32)


# --- resolutions and impact parameters --------------------------------------------------------
def curvature_resolution(pt: np.ndarray) -> np.ndarray:
    """Relative resolution σ(1/p_T)·p_T = 0.05 %·p_T ⊕ 1 % (p_T in GeV)."""
    pt = _f32(pt)
    return np.hypot(F32(CURV_RES_A) * pt, F32(CURV_RES_B)).astype(F32)


def measured_curvature(q: np.ndarray, pt: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(q_reco, p_T at the perigee) from the smeared curvature q/p_T·(1 + σ·N).

    The reconstructed charge is the sign of the smeared curvature, so flips arise from the
    smearing alone and matter only at the highest p_T (§3).
    """
    pt = _f32(pt)
    with np.errstate(divide="ignore"):  # empty track slots have p_T = 0: k = ±inf, p_T,meas = 0
        k = _f32(q) / pt * (F32(1) + curvature_resolution(pt) * _f32(n))
    q_reco = np.where(k >= 0, 1, -1).astype(np.int32)
    return q_reco, (F32(1) / np.maximum(np.abs(k), F32(1e-6))).astype(F32)


def sigma_d0_mm(pt: np.ndarray, eta: np.ndarray, is_electron: np.ndarray) -> np.ndarray:
    """σ_d0 = √(10² + (80/(p_T √sinθ))²) μm, ×1.3 for electrons; returned in mm."""
    pt = _f32(pt)
    sin_theta = (F32(1) / np.cosh(_f32(eta))).astype(F32)
    with np.errstate(divide="ignore"):  # empty track slots (p_T = 0) get σ = inf (masked later)
        ms = F32(D0_RES_MS_UM) / (pt * np.sqrt(sin_theta))
    s = np.hypot(F32(D0_RES_CONST_UM), ms) * np.where(is_electron, F32(D0_ELECTRON_SCALE), F32(1))
    return (s * F32(1e-3)).astype(F32)


def conversion_d0_mm(r_origin_mm: np.ndarray, q: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Transverse impact parameter of a track born at radius R with radial direction.

    Extrapolating the helix back to the perigee gives |d0| = 0.15·B·R²/p_T (lengths in m); in
    the ATLAS sign convention (perigee at (−d0 sinφ0, d0 cosφ0)) a positive track curving
    clockwise in B ∥ +z has d0 < 0, so q·d0 < 0 (§3 PC row).
    """
    r_m = _f32(r_origin_mm) * F32(1e-3)
    d0_m = -_f32(q) * F32(0.15 * B_FIELD_T) * r_m * r_m / np.maximum(_f32(pt), F32(1e-3))
    return (d0_m * F32(1e3)).astype(F32)


def angular_resolution(pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """σ_trk = (0.001 ⊕ 0.01 GeV/p_T)·(1 + 0.3|η|), identical for every species (§3 Δη1)."""
    pt = np.maximum(_f32(pt), F32(1e-3))
    return (
        np.hypot(F32(ANGLE_RES_CONST), F32(ANGLE_RES_MS_GEV) / pt)
        * (1 + F32(ANGLE_RES_ETA_SLOPE) * _f32(abs_eta))
    ).astype(F32)


def momentum_loss(z: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Δp/p = 1 − p_last/p_perigee = 1 − z·(1 + N(0, 0.03)) (§3 Tracks)."""
    return (F32(1) - _f32(z) * (F32(1) + F32(DPP_SMEAR) * _f32(n))).astype(F32)


# --- silicon hits -------------------------------------------------------------------------------
def pixel_hits(r_origin_mm: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(numberOfInnermostPixelHits, numberOfPixelHits incl. the IBL) for tracks born at R.

    A layer is hit if R < its radius, with efficiency 0.985; ``u`` has shape (..., 4).
    """
    r = _f32(r_origin_mm)[..., None]
    hit = (r < PIXEL_RADII_MM) & (_f32(u) < F32(PIXEL_HIT_EFF))
    return hit[..., 0].astype(np.int32), hit.sum(axis=-1).astype(np.int32)


def sct_hits(r_origin_mm: np.ndarray, u: np.ndarray, n_overlap: np.ndarray) -> np.ndarray:
    """numberOfSCTHits: 2 × Bernoulli(0.99) per crossed SCT layer plus Poisson(0.5) overlap hits
    (``n_overlap``) when at least one layer is crossed; ``u`` has shape (..., 4)."""
    r = _f32(r_origin_mm)[..., None]
    crossed = r < SCT_RADII_MM
    hits = 2 * (crossed & (_f32(u) < F32(SCT_HIT_EFF))).sum(axis=-1)
    return (hits + np.where(crossed.any(axis=-1), np.asarray(n_overlap), 0)).astype(np.int32)


# --- TRT ----------------------------------------------------------------------------------------
def trt_beta_params(
    is_electron: np.ndarray, p: np.ndarray, mass: np.ndarray, mu: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Beta(a, b) parameters of eProbabilityHT with a + b = 8 (§3 TRT).

    e±: mean 0.80. Hadrons: mean m = 0.10 + 0.15·clip((log10 γ − 2.5)/1.5, 0, 1) + 0.002 μ,
    with the Lorentz factor γ = p/m of the hadron (transition radiation turns on at γ ≳ 10³).
    """
    gamma = np.maximum(_f32(p), F32(1e-3)) / np.maximum(_f32(mass), F32(1e-6))
    turn_on = np.clip((np.log10(gamma) - F32(2.5)) / F32(1.5), 0, 1)
    m_had = F32(TRT_HADRON_BASE) + F32(TRT_HADRON_TURN_ON) * turn_on + F32(TRT_HADRON_MU_SLOPE) * _f32(mu)
    m = np.where(is_electron, F32(TRT_ELECTRON_MEAN), m_had).astype(np.float64)
    m = np.clip(m, 1e-3, 1 - 1e-3)
    return TRT_CONCENTRATION * m, TRT_CONCENTRATION * (1 - m)


def trt_eprob_ht(
    rng: np.random.Generator,
    is_electron: np.ndarray,
    p: np.ndarray,
    mass: np.ndarray,
    mu: np.ndarray,
    eta: np.ndarray,
) -> np.ndarray:
    """eProbabilityHT per track: one Beta draw per element (fixed shape); TRT_NO_INFO outside
    the TRT acceptance |η| ≥ 2.0. The DNN's trans_TRTPID default (0.15 at |η| > 2.01) is
    applied by ``egml.physics.electron_features.trans_trtpid``."""
    a, b = trt_beta_params(is_electron, p, mass, mu)
    draw = rng.beta(a, b).astype(F32)
    return np.where(np.abs(_f32(eta)) < F32(TRT_ETA_MAX), draw, F32(TRT_NO_INFO)).astype(F32)


# --- trident pattern recognition (§3 CF row) [K] -------------------------------------------------
@dataclass
class HybridTracks:
    """Per candidate (N,): the prompt track's outer segment taken over by a conversion leg."""

    hybrid: np.ndarray  # bool: the track is a hybrid (inner hits prompt e±, outer hits a leg)
    leg_taken: np.ndarray  # (N, 2) bool: the leg whose hits the hybrid took (no separate track)
    q: np.ndarray  # sign of the fitted curvature (the outer segment's charge)
    pt: np.ndarray  # p_T of the fitted perigee curvature
    d0: np.ndarray  # mm, perigee d0 of the kinked helix
    z: np.ndarray  # p_last / p_perigee
    phi_calo: np.ndarray  # landing φ of the outer segment (the leg after its brem)


def trident_hybrid(
    brem_converted: np.ndarray,
    pt: np.ndarray,
    z_prim: np.ndarray,
    r_b: np.ndarray,
    r_c: np.ndarray,
    leg_q: np.ndarray,
    leg_pt: np.ndarray,
    z_leg: np.ndarray,
    leg_phi_calo: np.ndarray,
) -> HybridTracks:
    """Continue the prompt e±'s inner hits with the straightest candidate beyond the kink.

    Only for e± whose brem photon converted in the ID (``brem_converted``; a physics process, not
    a class). Candidates: the e± after its hard brem at R_b (z·p_T) and the two legs (N, 2) of
    its brem photon converted at R_c (mm); "straightest" = smallest (R_out − R_start)²/p_T at the outermost
    SCT layer. When a leg wins, the fitted curvature takes its sign from the outer segment (the
    long SCT + TRT lever arm) and its p_T is the mean of the two segments' ln p_T weighted by the
    silicon layers each crosses (the GSF models brem as a loss in ln p); the helix with that
    curvature, tangent to the inner hits at the kink R_b, has d0 = 0.15·B·R_b²/p_T.
    """
    r_out = F32(SCT_RADII_MM[-1])
    dev_e = (r_out - r_b) ** 2 / np.maximum(z_prim * pt, F32(1e-3))
    dev_leg = (r_out - r_c)[:, None] ** 2 / np.maximum(leg_pt, F32(1e-3))
    cont = np.argmin(np.concatenate([dev_e[:, None], dev_leg], axis=1), axis=1)
    hybrid = np.asarray(brem_converted, bool) & (cont > 0) & (r_c < r_out)
    c_leg = np.maximum(cont - 1, 0)[:, None]
    take = lambda a: np.take_along_axis(np.asarray(a), c_leg, axis=1)[:, 0]  # noqa: E731
    q_out, pt_out = take(leg_q), np.maximum(take(leg_pt), F32(1e-3))
    si_radii = np.concatenate([PIXEL_RADII_MM, SCT_RADII_MM])
    w_in = (np.asarray(r_c, F32)[:, None] > si_radii).mean(axis=1).astype(F32)
    fit_pt = np.exp(w_in * np.log(_f32(pt)) + (1 - w_in) * np.log(pt_out)).astype(F32)
    return HybridTracks(
        hybrid=hybrid,
        leg_taken=hybrid[:, None] & (np.arange(2)[None, :] == c_leg),
        q=np.asarray(q_out).astype(np.int32),
        pt=fit_pt,
        d0=conversion_d0_mm(r_b, q_out, fit_pt),
        z=np.minimum(take(z_leg) * pt_out / fit_pt, F32(1)).astype(F32),
        phi_calo=take(leg_phi_calo).astype(F32),
    )
