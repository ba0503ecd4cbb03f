"""Track and track–cluster features of the ATLAS electron ID (PHYSICS.md §3) [S:6].

Pure array functions shared by the T2 generator, the likelihood baseline and the DNN input
pipeline: one definition each. Inputs are reconstructed quantities only (§0 rule 1).
"""

from __future__ import annotations

import numpy as np

F32 = np.float32

TRT_PID_TAU = 15.0  # trans_TRTPID = −ln(1/p − 1)/τ, τ = 15 [S:6]
FORWARD_ETA = 2.01  # beyond |η| = 2.01: f3 := 0.05 and trans_TRTPID := 0.15 [S:6]
F3_FORWARD_DEFAULT = 0.05
TRT_PID_FORWARD_DEFAULT = 0.15
_P_EPS = 1e-15  # keeps the logit finite for p = 0 or 1


def trans_trtpid(eprob_ht: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """trans_TRTPID = −ln(1/p − 1)/15, set to 0.15 where |η| > 2.01 (no TRT information) [S:6]."""
    p = np.clip(np.asarray(eprob_ht, dtype=np.float64), _P_EPS, 1 - _P_EPS)
    t = -np.log(1.0 / p - 1.0) / TRT_PID_TAU
    return np.where(np.abs(abs_eta) > FORWARD_ETA, TRT_PID_FORWARD_DEFAULT, t).astype(F32)


def f3_dnn(f3: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """f3 as the DNN tool reads it: 0.05 where |η| > 2.01 [S:6]."""
    return np.where(np.abs(abs_eta) > FORWARD_ETA, F32(F3_FORWARD_DEFAULT), np.asarray(f3, dtype=F32)).astype(
        F32
    )


def d0_significance(d0: np.ndarray, sigma_d0: np.ndarray) -> np.ndarray:
    """|d0/σ_d0| (``p_d0Sig``)."""
    return (np.abs(np.asarray(d0, dtype=F32)) / np.asarray(sigma_d0, dtype=F32)).astype(F32)


def signed_d0_significance(d0: np.ndarray, sigma_d0: np.ndarray, q: np.ndarray) -> np.ndarray:
    """q·d0/σ_d0 (``p_qd0Sig``) with the reconstructed charge q."""
    return (np.asarray(q, dtype=F32) * np.asarray(d0, dtype=F32) / np.asarray(sigma_d0, dtype=F32)).astype(
        F32
    )


def e_over_p(e_clus: np.ndarray, p_track: np.ndarray) -> np.ndarray:
    """E/p = E_clus/p_perigee (both GeV)."""
    return (np.asarray(e_clus, dtype=F32) / np.asarray(p_track, dtype=F32)).astype(F32)


def et_from_track_eta(e_clus: np.ndarray, eta_track: np.ndarray) -> np.ndarray:
    """The DNN's E_T = E_clus/cosh η_track (§3 features)."""
    return (np.asarray(e_clus, dtype=F32) / np.cosh(np.asarray(eta_track, dtype=F32))).astype(F32)


def delta_eta1(eta_strip_barycentre: np.ndarray, eta_track_l1: np.ndarray) -> np.ndarray:
    """Δη1 = η of the strip-layer barycentre (from cells) − η of the track extrapolated to L1."""
    return (np.asarray(eta_strip_barycentre, dtype=F32) - np.asarray(eta_track_l1, dtype=F32)).astype(F32)


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Angle difference wrapped into [−π, π)."""
    d = np.asarray(dphi, dtype=F32)
    return ((d + F32(np.pi)) % F32(2 * np.pi) - F32(np.pi)).astype(F32)


def delta_phi_rescaled2(phi_l2: np.ndarray, phi_track_rescaled_l2: np.ndarray) -> np.ndarray:
    """Δφres = φ of the L2 cluster − φ of the track extrapolated from the perigee to L2 with its
    momentum rescaled to E_clus (``p_deltaPhiRescaled2``)."""
    return wrap_phi(np.asarray(phi_l2, dtype=F32) - np.asarray(phi_track_rescaled_l2, dtype=F32))
