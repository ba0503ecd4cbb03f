"""ATLAS photon/electron shower shapes from cell arrays (PHYSICS.md §2.3) [S:3,4,5].

Pure, vectorised array functions shared by the generators (T1, T2, T4), the baselines and
the evaluation. Every input is a cell array or a position reconstructed from cells, never a
truth quantity (PHYSICS.md §0 rule 1). Energies are in GeV here; the writer converts the
strip energies and E277 to MeV (§7).

Middle-layer window convention: ``e2`` has shape (N, 7, 11) = (η, φ) L2 cells centred on
the hottest cell (index (3, 5)); the images written to disk are the transposes (axis 0 = φ).
"""

from __future__ import annotations

import numpy as np

F32 = np.float32

# --- L2 geometry of the middle window (§1.2): 7 η cells × 11 φ cells around the hottest one.
L2_DETA = 0.025
MIDDLE_HALF_ETA, MIDDLE_HALF_PHI = 3, 5

# --- wη2 position correction (egammaqweta2c) [S:5]: (|η| lo, hi) → P0, P1, P2 for u < 0.1,
# 0.1 ≤ u < 0.9 and u ≥ 0.9 (identical rows where ATLAS does not split in u).
_WETA2_TABLE: tuple[tuple[float, float, np.ndarray], ...] = (
    (0.0, 0.8, np.array([[0.0045, -0.0016, -0.0866], [0.005375, -0.0215, 0.0215], [-0.0562, 0.114, -0.053]])),
    (
        0.8,
        1.8,
        np.array([[0.0039, 0.00816, -0.145], [0.005075, -0.0203, 0.0203], [-0.0324, 0.0653, -0.0286]]),
    ),
    (1.8, 2.0, np.array([[0.0047, -0.0184, 0.0180]] * 3)),
    (2.0, 2.5, np.array([[0.0035, -0.0139, 0.0137]] * 3)),
)

# --- strip-variable definitions (egammaStripsShape) [S:4]
STRIP_HALF_WINDOW = 0.0625  # strips with centres in η_max ± 0.0625 (≤ 40 strips)
WSTOT_HALF_WINDOW = 0.03125  # wtots1 over |η_i − η_max| ≤ 0.03125 (20 barrel strips)
FSIDE_EMAX_MIN = 0.060  # GeV: fracs1 computed only if E_max1 > 60 MeV, else 0
F1_STRIP_MIN = 0.005  # strip variables undefined below f1 = 0.005 [S:2]


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with NaN where den is not positive (undefined ratio, never a silent 0)."""
    ok = den > 0
    return np.where(ok, num / np.where(ok, den, 1), np.nan).astype(F32)


def middle_shapes(
    e2: np.ndarray, eta_c: np.ndarray, phi_c: np.ndarray, endcap: np.ndarray
) -> dict[str, np.ndarray]:
    """Middle-layer variables of a (N, 7, 11) = (η, φ) L2 window centred on the hottest cell.

    ``eta_c`` (N, 7) and ``phi_c`` (N, 11) are the cell centres (φ relative or absolute, but
    continuous across the window). Returns E277, E237, E233 (GeV), Rη = E237/E277,
    Rφ = E233/E237, the raw wη2 over the 3×5 cells, and the cluster barycentre (η₂, φ₂)
    over 3×7 (barrel) or 5×5 (endcap) cells.
    """
    if e2.ndim != 3 or e2.shape[1:] != (7, 11):
        raise ValueError(f"e2 must have shape (N, 7, 11) = (eta, phi), got {e2.shape}")
    e = e2.astype(F32, copy=False)
    e277 = e[:, :, 2:9].sum(axis=(1, 2))
    e237 = e[:, 2:5, 2:9].sum(axis=(1, 2))
    e233 = e[:, 2:5, 4:7].sum(axis=(1, 2))
    # wη2: 3 (η) × 5 (φ) cells, η at cell centres
    w = e[:, 2:5, 3:8].sum(axis=2)
    # moments relative to the hottest cell: on absolute η (≈2) the float32 difference m2 − m1²
    # would cancel to ~1e-3 relative noise; the spread is translation invariant
    eta3 = (eta_c[:, 2:5] - eta_c[:, 3:4]).astype(F32)
    sw = w.sum(axis=1)
    m1 = _div((w * eta3).sum(axis=1), sw)
    m2 = _div((w * eta3 * eta3).sum(axis=1), sw)
    weta2_raw = np.sqrt(np.maximum(m2 - m1 * m1, 0)).astype(F32)
    # cluster barycentre: 3×7 in the barrel, 5×5 in the endcap
    sel_b = e[:, 2:5, 2:9]
    sel_e = e[:, 1:6, 3:8]
    eb, ee = sel_b.sum(axis=(1, 2)), sel_e.sum(axis=(1, 2))
    eta_b = _div((sel_b.sum(axis=2) * eta_c[:, 2:5]).sum(axis=1), eb)
    phi_b = _div((sel_b.sum(axis=1) * phi_c[:, 2:9]).sum(axis=1), eb)
    eta_e = _div((sel_e.sum(axis=2) * eta_c[:, 1:6]).sum(axis=1), ee)
    phi_e = _div((sel_e.sum(axis=1) * phi_c[:, 3:8]).sum(axis=1), ee)
    eta2 = np.where(endcap, eta_e, eta_b)
    phi2 = np.where(endcap, phi_e, phi_b)
    # a cluster with no positive energy keeps the hottest-cell centre
    eta2 = np.where(np.isfinite(eta2), eta2, eta_c[:, 3]).astype(F32)
    phi2 = np.where(np.isfinite(phi2), phi2, phi_c[:, 5]).astype(F32)
    return {
        "e277": e277,
        "e237": e237,
        "e233": e233,
        "Reta": _div(e237, e277),
        "Rphi": _div(e233, e237),
        "weta2_raw": weta2_raw,
        "eta2": eta2,
        "phi2": phi2,
    }


def weta2_corrected(weta2_raw: np.ndarray, eta2: np.ndarray, eta_cell: np.ndarray) -> np.ndarray:
    """Stored weta2 = raw − (P0 + P1·u + P2·u²) (egammaqweta2c [S:5]).

    u = fmod(|η₂ − η_cell − 0.0125|, 0.025)/0.025 with η₂ the reconstructed barycentre and
    η_cell the hottest-cell centre; no correction outside |η| < 2.5.
    """
    u = (np.fmod(np.abs(eta2 - eta_cell - 0.5 * L2_DETA), L2_DETA) / L2_DETA).astype(F32)
    iu = np.where(u < 0.1, 0, np.where(u < 0.9, 1, 2))
    aeta = np.abs(eta2)
    corr = np.zeros_like(u)
    for lo, hi, table in _WETA2_TABLE:
        p = table[iu].astype(F32)  # (N, 3)
        region = (aeta >= lo) & (aeta < hi)
        corr = np.where(region, p[:, 0] + p[:, 1] * u + p[:, 2] * u * u, corr)
    return (weta2_raw - corr).astype(F32)


def layer_fractions(
    e0: np.ndarray, e1: np.ndarray, e2: np.ndarray, e3: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """f1 = E1/(E0+E1+E2+E3) and f3 = E3/(E0+E1+E2+E3), cluster layer sums (§2.3)."""
    tot = e0 + e1 + e2 + e3
    return _div(e1, tot), _div(e3, tot)


def strips_undefined(eta_max: np.ndarray, f1: np.ndarray) -> np.ndarray:
    """True where the strip variables are undefined: |η_max| > 2.4, 1.4 < |η_max| < 1.5 or
    f1 < 0.005 (f1 rule [S:2], η ranges [K]); NaN f1 counts as undefined."""
    a = np.abs(eta_max)
    return (a > 2.4) | ((a > 1.4) & (a < 1.5)) | ~(f1 >= F1_STRIP_MIN)


def weta1_correction(u1: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """C(u₁) of egammaqweta1c [S:5], subtracted from ws3 to give the stored weta1."""
    u2 = u1 * u1
    return np.select(
        [abs_eta < 1.0, abs_eta < 1.45, abs_eta < 1.5, abs_eta < 1.8, abs_eta < 2.0, abs_eta < 2.5],
        [
            0.76 * u2,
            0.85 * u2 - 1.9 * u2 * u2,
            0 * u2,
            0.85 * u2 - 1.9 * u2 * u2,
            0.84 * u2,
            0.40 * u2 + 2.1 * u2 * u2,
        ],
        default=0 * u2,
    ).astype(F32)


def strip_shapes(
    strip_e: np.ndarray,
    strip_eta: np.ndarray,
    strip_width: np.ndarray,
    valid: np.ndarray,
    eta_max: np.ndarray,
    undefined: np.ndarray,
) -> dict[str, np.ndarray]:
    """Strip variables from native strips summed over the two strip-φ cells (§2.3) [S:4].

    ``strip_e``, ``strip_eta`` (centres), ``strip_width`` (Δη) and ``valid`` have shape
    (N, S) with the valid strips contiguous and ordered in η (centres in η_max ± 0.0625).
    ``undefined`` marks candidates whose strip variables are NaN (see ``strips_undefined``).
    Returns ws3 (raw), weta1 (= corrected ws3), wtots1, fracs1, emaxs1, e2tsts1, emins1,
    Eratio, deltae; energies in GeV.
    """
    if strip_e.ndim != 2 or strip_e.shape != valid.shape:
        raise ValueError(f"strip arrays must share shape (N, S), got {strip_e.shape} and {valid.shape}")
    n, s = strip_e.shape
    idx = np.arange(s)
    rows = np.arange(n)
    e = np.where(valid, strip_e, 0).astype(F32)
    width = np.where(valid, strip_width, 1).astype(F32)
    dens = np.where(valid, e / width, -np.inf).astype(F32)
    k = np.argmax(np.where(valid, e, -np.inf), axis=1)
    emax1 = e[rows, k]
    rel = (idx[None, :] - k[:, None]).astype(F32)

    # ws3 over k−1..k+1 in strip units, and its position correction
    near = valid & (np.abs(rel) <= 1)
    s3 = np.where(near, e, 0).sum(axis=1)
    ws3 = np.sqrt(np.maximum(_div(np.where(near, e * rel * rel, 0).sum(axis=1), s3), 0))
    eta1 = _div(np.where(near, e * strip_eta, 0).sum(axis=1), s3)
    eta_k = strip_eta[rows, k]
    pitch = strip_width[rows, k]
    u1 = np.fmod(np.abs(eta1 - eta_k - 0.5 * pitch), pitch) / pitch - 0.5
    weta1 = ws3 - weta1_correction(u1.astype(F32), np.abs(eta_k))

    # wtots1 over |η_i − η_max| ≤ 0.03125, relative to k
    tot = valid & (np.abs(strip_eta - eta_max[:, None]) <= WSTOT_HALF_WINDOW + 1e-6)
    stot = np.where(tot, e, 0).sum(axis=1)
    wtots1 = np.sqrt(np.maximum(_div(np.where(tot, e * rel * rel, 0).sum(axis=1), stot), 0))

    # fracs1 with energy densities; only if E_max1 > 60 MeV
    d0 = np.where(valid, dens, 0)
    in3 = np.where(np.abs(rel) <= 3, d0, 0).sum(axis=1)
    in1 = np.where(np.abs(rel) <= 1, d0, 0).sum(axis=1)
    fracs1 = np.where(emax1 > FSIDE_EMAX_MIN, _div(in3, in1) - 1, 0).astype(F32)

    # second maximum: strict local maxima of the density, not an array end, not k
    left = np.concatenate([np.full((n, 1), np.inf, F32), dens[:, :-1]], axis=1)
    right = np.concatenate([dens[:, 1:], np.full((n, 1), np.inf, F32)], axis=1)
    is_max = valid & (dens > left) & (dens > right) & (rel != 0)
    is_max &= np.isfinite(left) & np.isfinite(right)  # neighbours exist (not first/last valid)
    has2 = is_max.any(axis=1)
    k2 = np.argmax(np.where(is_max, dens, -np.inf), axis=1)
    e2nd = np.where(has2, e[rows, k2], 0).astype(F32)
    lo, hi = np.minimum(k, k2), np.maximum(k, k2)
    between = (idx[None, :] > lo[:, None]) & (idx[None, :] < hi[:, None]) & valid
    kmin = np.argmin(np.where(between, dens, np.inf), axis=1)
    emin = np.where(has2 & between.any(axis=1), e[rows, kmin], e2nd).astype(F32)
    emin = np.where(has2, emin, 0).astype(F32)
    eratio = _div(emax1 - e2nd, emax1 + e2nd)

    out = {
        "ws3": ws3.astype(F32),
        "weta1": weta1.astype(F32),
        "wtots1": wtots1.astype(F32),
        "fracs1": fracs1,
        "emaxs1": emax1.astype(F32),
        "e2tsts1": e2nd,
        "emins1": emin,
        "Eratio": eratio,
        "deltae": (e2nd - emin).astype(F32),
    }
    bad = undefined | ~valid.any(axis=1)
    return {name: np.where(bad, np.nan, v).astype(F32) for name, v in out.items()}


def hadronic_leakage(
    e_had1: np.ndarray, e_had_all: np.ndarray, e_clus: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rhad1 = E_T(HCAL layer 1)/E_T and Rhad = E_T(all HCAL layers)/E_T, same cells within
    ±0.12 of (η₂, φ₂) (§1.5, §2.3). Both E_T use the same cosh η₂, so it cancels."""
    return _div(e_had1, e_clus), _div(e_had_all, e_clus)


def menu_rhad(rhad1: np.ndarray, rhad: np.ndarray, eta2: np.ndarray) -> np.ndarray:
    """The leakage variable the menus cut on: Rhad for 0.8 ≤ |η| < 1.37, Rhad1 elsewhere [S:2]."""
    a = np.abs(eta2)
    return np.where((a >= 0.8) & (a < 1.37), rhad, rhad1).astype(F32)
