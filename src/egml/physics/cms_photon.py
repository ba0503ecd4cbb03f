"""CMS photon-ID variables from 32×32 ECAL crystal images (PHYSICS.md §4, [S:C3]).

Pure array functions shared by the T3 generator, the photon-ID BDT baseline and the evaluation.
Images are (N, 32, 32) float32 in GeV, rows iη and columns iφ, with the E_max (seed) crystal at
(15, 15) (``SEED``). Positions in crystal units are converted with ``CRYSTAL_SIZE``.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32
CRYSTAL_SIZE = 0.0174  # EB crystal Δη = Δφ (§4)
SEED = 15  # seed crystal (0-based) in the 32×32 crop (§4)
LOG_WEIGHT_W0 = 4.7  # σiηiη log-weight cut-off (§4)
EA_BARREL_INNER, EA_BARREL_OUTER = 0.1113, 0.0953  # photon-isolation effective areas (|η| < 1 / else) [S:C3]
# Supercluster (a simplified hybrid algorithm [K]): 5-crystal η dominoes at |Δiφ| ≤ 10 whose
# energy exceeds 0.35 GeV; the seed domino is always included.
SC_HALF_ETA, SC_HALF_PHI, SC_DOMINO_THRESHOLD = 2, 10, 0.35
PF_CRYSTAL_THRESHOLD = 0.3  # GeV: crystals counted in the photon isolation (6 σ_noise) [K]
# Preselection of the CMS E2E analyser [S:C3] (§4)
PRESEL_PT, PRESEL_ETA, PRESEL_R9, PRESEL_HOE, PRESEL_SIEIE = 15.0, 1.44, 0.5, 0.07, 0.0105


def _check_images(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, F32)
    if img.ndim != 3 or img.shape[1] <= SEED + 2 or img.shape[2] <= SEED + 2:
        raise ValueError(
            f"expected crystal images (N, 32, 32) with the seed at (15, 15), got shape {img.shape}"
        )
    return img


def window_energy(img: np.ndarray, half_eta: int, half_phi: int) -> np.ndarray:
    """Sum of the (2·half_eta+1)×(2·half_phi+1) crystals centred on the seed."""
    img = _check_images(img)
    return img[:, SEED - half_eta : SEED + half_eta + 1, SEED - half_phi : SEED + half_phi + 1].sum(
        axis=(1, 2)
    )


def e2x2_max(img: np.ndarray) -> np.ndarray:
    """Largest of the four 2×2 sums that contain the seed."""
    img = _check_images(img)
    b = img[:, SEED - 1 : SEED + 2, SEED - 1 : SEED + 2]
    sums = b[:, :-1, :-1] + b[:, 1:, :-1] + b[:, :-1, 1:] + b[:, 1:, 1:]
    return sums.reshape(len(img), -1).max(axis=1)


def _safe_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b > 0, a / np.where(b > 0, b, 1), 0).astype(F32)


def r9(img: np.ndarray, e_sc_raw: np.ndarray) -> np.ndarray:
    """full5×5 R9 = E3×3 / E_SC,raw."""
    return _safe_ratio(window_energy(img, 1, 1), e_sc_raw)


def s4(img: np.ndarray) -> np.ndarray:
    """s4 = E2×2 (max containing the seed) / E5×5."""
    return _safe_ratio(e2x2_max(img), window_energy(img, 2, 2))


def local_covariances(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(σiηiη, σiηiφ) over the 5×5 with log weights w = max(0, 4.7 + ln(E_i/E5×5)) (§4).

    σiηiη = √(Σw(iη − iη̄)²/Σw)·0.0174; σiηiφ is the covariance Σw(iη − iη̄)(iφ − iφ̄)/Σw·0.0174².
    """
    img = _check_images(img)
    b = img[:, SEED - 2 : SEED + 3, SEED - 2 : SEED + 3].astype(np.float64)
    e5 = b.sum(axis=(1, 2))[:, None, None]
    ratio = np.where((b > 0) & (e5 > 0), b / np.where(e5 > 0, e5, 1), 1e-30)
    w = np.maximum(0.0, LOG_WEIGHT_W0 + np.log(np.maximum(ratio, 1e-30)))
    w = np.where(b > 0, w, 0)
    sw = np.maximum(w.sum(axis=(1, 2)), 1e-30)
    i = np.arange(5, dtype=np.float64)
    m_eta = (w * i[None, :, None]).sum(axis=(1, 2)) / sw
    m_phi = (w * i[None, None, :]).sum(axis=(1, 2)) / sw
    d_eta = i[None, :, None] - m_eta[:, None, None]
    d_phi = i[None, None, :] - m_phi[:, None, None]
    see = np.sqrt((w * d_eta**2).sum(axis=(1, 2)) / sw) * CRYSTAL_SIZE
    sep = (w * d_eta * d_phi).sum(axis=(1, 2)) / sw * CRYSTAL_SIZE**2
    return see.astype(F32), sep.astype(F32)


def supercluster_mask(img: np.ndarray, threshold: float = SC_DOMINO_THRESHOLD) -> np.ndarray:
    """Crystals of the supercluster (N, 32, 32) bool: the η dominoes (rows seed ± 2) within
    ±10 columns of the seed whose energy exceeds ``threshold`` GeV, plus the seed domino."""
    img = _check_images(img)
    rows = slice(SEED - SC_HALF_ETA, SEED + SC_HALF_ETA + 1)
    domino = img[:, rows, :].sum(axis=1)
    col = np.arange(img.shape[2])
    near = np.abs(col - SEED) <= SC_HALF_PHI
    keep = near[None, :] & ((domino > threshold) | (col == SEED)[None, :])
    mask = np.zeros(img.shape, bool)
    mask[:, rows, :] = keep[:, None, :]
    return mask


def supercluster_moments(
    img: np.ndarray, sc_mask: np.ndarray, crystal_eta: np.ndarray, crystal_phi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(E_raw, η_SC, φ_SC, etaWidth, phiWidth) of the supercluster.

    crystal_eta (N, 32) and crystal_phi (N, 32) are the row/column centres (φ unwrapped along
    the row). Widths are energy-weighted RMS (weights max(E, 0)) in η and φ units.
    """
    img = _check_images(img)
    e = np.where(sc_mask, img, 0).astype(np.float64)
    e_raw = e.sum(axis=(1, 2))
    w = np.maximum(e, 0)
    sw = np.maximum(w.sum(axis=(1, 2)), 1e-30)
    we, wp = w.sum(axis=2), w.sum(axis=1)  # (N, 32) row and column profiles
    eta_c, phi_c = crystal_eta.astype(np.float64), crystal_phi.astype(np.float64)
    m_eta = (we * eta_c).sum(1) / sw
    m_phi = (wp * phi_c).sum(1) / sw
    eta_w = np.sqrt(np.maximum((we * (eta_c - m_eta[:, None]) ** 2).sum(1) / sw, 0))
    phi_w = np.sqrt(np.maximum((wp * (phi_c - m_phi[:, None]) ** 2).sum(1) / sw, 0))
    m_phi = (m_phi + np.pi) % (2 * np.pi) - np.pi
    return e_raw.astype(F32), m_eta.astype(F32), m_phi.astype(F32), eta_w.astype(F32), phi_w.astype(F32)


def delta_r2(eta: np.ndarray, phi: np.ndarray, axis_eta: np.ndarray, axis_phi: np.ndarray) -> np.ndarray:
    """ΔR² of points (N, ...) to per-candidate axes (N,), φ wrapped."""
    shape = (-1,) + (1,) * (np.ndim(eta) - 1)
    dphi = (phi - np.reshape(axis_phi, shape) + np.pi) % (2 * np.pi) - np.pi
    return (eta - np.reshape(axis_eta, shape)) ** 2 + dphi**2


def cone_sum(
    values: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mask: np.ndarray,
    axis_eta: np.ndarray,
    axis_phi: np.ndarray,
    r_max: float,
    r_min: float = 0.0,
) -> np.ndarray:
    """Σ values of the points with r_min ≤ ΔR < r_max of each candidate's axis (N,)."""
    dr2 = delta_r2(eta, phi, axis_eta, axis_phi)
    inside = mask & (dr2 < r_max**2) & (dr2 >= r_min**2)
    return np.where(inside, values, 0).reshape(len(values), -1).sum(1).astype(F32)


def photon_isolation(
    img: np.ndarray,
    sc_mask: np.ndarray,
    crystal_eta: np.ndarray,
    crystal_phi: np.ndarray,
    axis_eta: np.ndarray,
    axis_phi: np.ndarray,
    r_max: float = 0.3,
    threshold: float = PF_CRYSTAL_THRESHOLD,
) -> np.ndarray:
    """PF-photon-like isolation: Σ E_T of crystals above ``threshold`` in ΔR < r_max, outside the SC."""
    img = _check_images(img)
    eta2 = np.broadcast_to(crystal_eta[:, :, None], img.shape)
    phi2 = np.broadcast_to(crystal_phi[:, None, :], img.shape)
    et = img / np.cosh(eta2)
    return cone_sum(et, eta2, phi2, (img > threshold) & ~sc_mask, axis_eta, axis_phi, r_max)


def worst_vertex_isolation(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    vertex: np.ndarray,
    mask: np.ndarray,
    axis_eta: np.ndarray,
    axis_phi: np.ndarray,
    n_vertices: int,
    r_max: float = 0.3,
    r_min: float = 0.02,
) -> np.ndarray:
    """Largest per-vertex Σ p_T of tracks in the cone, over vertices 0 … n_vertices − 1."""
    dr2 = delta_r2(eta, phi, axis_eta, axis_phi)
    inside = mask & (dr2 < r_max**2) & (dr2 >= r_min**2)
    n = len(pt)
    idx = np.arange(n)[:, None] * n_vertices + np.clip(vertex, 0, n_vertices - 1)
    sums = np.bincount(idx[inside], weights=pt[inside], minlength=n * n_vertices).reshape(n, n_vertices)
    return sums.max(axis=1).astype(F32)


def photon_iso_effective_area(sc_eta: np.ndarray) -> np.ndarray:
    """Effective area of the ρ·EA photon-isolation correction [S:C3]."""
    return np.where(np.abs(sc_eta) < 1.0, EA_BARREL_INNER, EA_BARREL_OUTER).astype(F32)


def passes_preselection(
    pt: np.ndarray,
    sc_eta: np.ndarray,
    r9_: np.ndarray,
    hoe: np.ndarray,
    sieie: np.ndarray,
    has_pixel_seed: np.ndarray,
    pt_min: float = PRESEL_PT,
) -> np.ndarray:
    """CMS E2E preselection [S:C3]: p_T, |η| < 1.44, R9 > 0.5, H/E < 0.07, σiηiη < 0.0105, no pixel seed."""
    return (
        (pt > pt_min)
        & (np.abs(sc_eta) < PRESEL_ETA)
        & (r9_ > PRESEL_R9)
        & (hoe < PRESEL_HOE)
        & (sieie < PRESEL_SIEIE)
        & ~np.asarray(has_pixel_seed, bool)
    )
