"""Detector-agnostic electromagnetic shower model: GFlash profiles and exact cell integrals.

PHYSICS.md §1.4 (Grindhammer–Peters / Geant4 GFlash homogeneous tuning [S:G], with the
soft-object floors, caps and clamps of this specification). Used by the ATLAS calorimeter
(``egml.sim.atlas``) and the CMS crystal calorimeter (T3). All functions are vectorised
over arbitrary leading shapes and return float32.

Lateral geometry: a component of radius R has the 2-D density ρ_R = R²/[π(x²+y²+R²)²]; its
integral over [0,X]×[0,Y] is the corner function G (``corner_integral``). Cell fractions are
corner differences of G on the (n_η+1)×(n_φ+1) grid of cell edges, in (η, φ) units with
R → R/r⊥ (§0 coordinates).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import erf, gammainc, gammaln

from egml.sim import kernels

F32 = np.float32

# --- GFlash homogeneous tuning [S:G], evaluated at y_eff = max(E, 0.3 GeV)/E_c (§1.4) ---------
Y_EFF_E_MIN = 0.3  # GeV, floor of E in y_eff (§1.4 soft-object rules)
LN_T_OFFSET = 0.812  # <ln T> = ln max(ln y - 0.812, 0.1)
LOG_FLOOR = 0.1  # floor inside both logarithms (§1.4)
SIGMA_LN_CAP = 0.5  # cap on σ(ln T), σ(ln α) (§1.4)
ALPHA_MIN = 1.2  # clamp α ≥ 1.2 for every object (§1.4)
T_MIN = 0.3  # clamp T ≥ 0.3 for every object (§1.4)
TAU_MAX = 6.0  # τ_L ∈ [0, 6] (§1.4)
DP_MIN = 1e-12  # ΔP(α) below which F = τ = 0 (§1.4)
LATERAL_E_MIN = 0.05  # GeV, lateral parameters evaluated at max(E, 0.05 GeV) (§1.4)
SOFT_SIGMA_SCALE = 0.85  # σ = 0.85·(p R_C + (1-p) R_T) for the erf integral of soft objects (§0)


def _f32(x: np.ndarray | float) -> np.ndarray:
    return np.asarray(x, dtype=F32)


def longitudinal_params(
    E: np.ndarray,
    Z: np.ndarray | float,
    Ec: np.ndarray | float,
    r1: np.ndarray,
    r2: np.ndarray,
    k_T_long: float = 1.0,
    k_alpha_long: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Correlated log-normal GFlash longitudinal parameters (§1.4).

    E: object energy (GeV); Z, Ec (GeV): effective medium; r1, r2: N(0,1) draws of E's shape.
    Knobs T ← k_T_long·T, α ← k_alpha_long·α are applied before the clamps α ≥ 1.2, T ≥ 0.3.
    Returns (alpha, beta, T) float32 with β = (α-1)/T > 0 and T the depth of the maximum (X0).
    """
    E = _f32(E)
    if np.any(~np.isfinite(E)):
        raise ValueError("longitudinal_params: E must be finite (GeV)")
    Z = _f32(Z)
    ln_y = np.log(np.maximum(E, F32(Y_EFF_E_MIN)) / _f32(Ec))
    mean_ln_T = np.log(np.maximum(ln_y - F32(LN_T_OFFSET), F32(LOG_FLOOR)))
    mean_ln_a = np.log(np.maximum(F32(0.81) + (F32(0.458) + F32(2.26) / Z) * ln_y, F32(LOG_FLOOR)))
    # The caps also remove the poles of 1/(-1.4 + 1.26 ln y) (denominator ≤ 2 is replaced by 0.5)
    den_T = F32(-1.4) + F32(1.26) * ln_y
    den_a = F32(-0.58) + F32(0.86) * ln_y
    sig_T = np.where(den_T > 2.0, 1.0 / np.maximum(den_T, F32(2.0)), F32(SIGMA_LN_CAP)).astype(F32)
    sig_a = np.where(den_a > 2.0, 1.0 / np.maximum(den_a, F32(2.0)), F32(SIGMA_LN_CAP)).astype(F32)
    rho = np.clip(F32(0.705) - F32(0.023) * ln_y, -1.0, 1.0)
    c1 = np.sqrt((1 + rho) / 2)
    c2 = np.sqrt((1 - rho) / 2)
    r1 = _f32(r1)
    r2 = _f32(r2)
    T = np.exp(mean_ln_T + sig_T * (c1 * r1 + c2 * r2)) * F32(k_T_long)
    alpha = np.exp(mean_ln_a + sig_a * (c1 * r1 - c2 * r2)) * F32(k_alpha_long)
    alpha = np.maximum(alpha, F32(ALPHA_MIN)).astype(F32)
    T = np.maximum(T, F32(T_MIN)).astype(F32)
    beta = ((alpha - 1) / T).astype(F32)
    return alpha, beta, T


def gamma_cdf(alpha: np.ndarray, beta: np.ndarray, t0: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """P(α, β·max(0, depth − t0)): fraction of the energy deposited before ``depth`` (X0)."""
    x = np.maximum(_f32(depth) - _f32(t0), 0) * _f32(beta)
    return gammainc(_f32(alpha), x).astype(F32)


def gamma_cdf_pair(
    alpha: np.ndarray, beta: np.ndarray, t0: np.ndarray, depth: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """P(α, x) and P(α+1, x) at x = β·max(0, depth − t0), float64 of the broadcast shape.

    One ``gammainc`` call: P(α+1, x) = P(α, x) − x^α e^(−x)/Γ(α+1) (the recurrence of the
    regularised incomplete gamma function), evaluated in float64.
    """
    alpha = _f32(alpha)
    x = (np.maximum(_f32(depth) - _f32(t0), 0) * _f32(beta)).astype(np.float64)
    a = alpha.astype(np.float64)
    P = gammainc(a, x)
    with np.errstate(divide="ignore"):
        log_term = a * np.log(x) - x - gammaln(a + 1)  # ln Γ(α+1) once per object, broadcast over depths
    return P, P - np.exp(log_term)


def interval_fraction(
    alpha: np.ndarray, P_a: tuple[np.ndarray, np.ndarray], P_b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(F, τ) of a depth interval [a, b] from ``gamma_cdf_pair`` at its two ends (§1.4).

    F = ΔP(α); τ = (t̄ − t0)/T = α/(α−1)·ΔP(α+1)/ΔP(α), clipped to [0, 6]; F = τ = 0 where
    ΔP(α) < 1e-12. Returns float32.
    """
    alpha = _f32(alpha)
    dP = P_b[0] - P_a[0]
    dP1 = P_b[1] - P_a[1]
    ok = dP >= DP_MIN
    safe = np.where(ok, dP, 1.0)
    # (t̄ - t0)/T = (α/β)(dP1/dP) · β/(α-1) = α/(α-1) · dP1/dP
    tau = alpha / np.maximum(alpha - 1, F32(1e-6)) * dP1 / safe
    tau = np.where(ok, np.clip(tau, 0.0, TAU_MAX), 0.0).astype(F32)
    return np.where(ok, dP, 0.0).astype(F32), tau


def depth_fraction(
    alpha: np.ndarray, beta: np.ndarray, t0: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Energy fraction F in the depth interval [a, b] (X0 from the first material) and τ (§1.4).

    F = P(α, β·max(0, b−t0)) − P(α, β·max(0, a−t0)); the mean depth inside the interval is
    t̄ = t0 + (α/β)·ΔP(α+1)/ΔP(α) and τ = (t̄ − t0)/T with T = (α−1)/β, clipped to [0, 6].
    F = τ = 0 where ΔP(α) < 1e-12. Returns float32 arrays of the broadcast shape.
    """
    return interval_fraction(alpha, gamma_cdf_pair(alpha, beta, t0, a), gamma_cdf_pair(alpha, beta, t0, b))


def lateral_params(
    E: np.ndarray, tau: np.ndarray, Z: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GFlash two-component lateral parameters (R_C, R_T, p), radii in units of R_M (§1.4).

    E (GeV) is evaluated at max(E, 0.05 GeV), τ is clipped to [0, 6] and p to [0, 1].
    The caller scales the radii by R_M,eff·k_C,L / R_M,eff·k_T,L.
    """
    lnE = np.log(np.maximum(_f32(E), F32(LATERAL_E_MIN)))
    tau = np.clip(_f32(tau), 0.0, TAU_MAX)
    Z = _f32(Z)
    z1 = F32(0.0251) + F32(0.00319) * lnE
    z2 = F32(0.1162) - F32(0.000381) * Z
    R_C = z1 + z2 * tau
    k1 = F32(0.659) - F32(0.00309) * Z
    k2, k3 = F32(0.645), F32(-2.59)
    k4 = F32(0.3585) + F32(0.0412) * lnE
    R_T = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1 = F32(2.632) - F32(0.00094) * Z
    p2 = F32(0.401) + F32(0.00187) * Z
    p3 = F32(1.313) - F32(0.0686) * lnE
    u = (p2 - tau) / p3
    p = np.clip(p1 * np.exp(u - np.exp(u)), 0.0, 1.0)
    return R_C.astype(F32), R_T.astype(F32), p.astype(F32)


def corner_integral(X: np.ndarray, Y: np.ndarray, R: np.ndarray) -> np.ndarray:
    """G(X, Y; R) = ∫_0^X∫_0^Y R²/[π(x²+y²+R²)²] dy dx, odd in X and in Y; 4·G(∞,∞) = 1.

    G = (1/2π)[(X/a)·atan(Y/a) + (Y/b)·atan(X/b)], a = √(X²+R²), b = √(Y²+R²) (§1.4).
    Broadcasts X, Y, R (scalars or arrays). For corner grids use ``corner_grid``, which
    computes a and b once per row / column.
    """
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=F32))
    Yt = torch.from_numpy(np.ascontiguousarray(Y, dtype=F32))
    R2 = torch.from_numpy(np.ascontiguousarray(R, dtype=F32)) ** 2
    a = torch.sqrt(Xt * Xt + R2)
    b = torch.sqrt(Yt * Yt + R2)
    g = (Xt / a) * torch.atan(Yt / a) + (Yt / b) * torch.atan(Xt / b)
    return (g * (1 / (2 * np.pi))).numpy()


def corner_grid(x: np.ndarray, y: np.ndarray, R: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ_c w_c·G(x_i, y_j; R_c) on the outer grid of corners, (M, nx, ny) float32 (§1.4).

    x (M, nx), y (M, ny): corner coordinates relative to each object's impact; R, w (M, C): radii
    and weights of C lateral components (e.g. E·F·p and E·F·(1−p) for the GFlash core and tail).
    a = √(x²+R²) and b = √(y²+R²) are computed once per row / column, so a corner costs two
    arctan per component; the loop is the fused numba kernel ``kernels.corner_grid`` (float32,
    vectorised arctan).
    """
    if np.shape(y)[1] < np.shape(x)[1]:  # G(X, Y) = G(Y, X): keep the longer axis innermost (faster)
        return np.ascontiguousarray(corner_grid(y, x, R, w).transpose(0, 2, 1))
    R = np.ascontiguousarray(R, dtype=F32)
    R = R[:, None] if R.ndim == 1 else R
    w = np.ascontiguousarray(w, dtype=F32).reshape(R.shape)
    return kernels.corner_grid(np.ascontiguousarray(x, dtype=F32), np.ascontiguousarray(y, dtype=F32), R, w)


def gauss_axis_factors(
    x: np.ndarray, y: np.ndarray, sigma: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis factors of ``gauss_cell_grid``: w·ΔΦ(x) (M, nx−1) and ΔΦ(y) (M, ny−1), float32.

    The erf differences are taken in float64 (far-tail cells keep their precision), then rounded.
    """
    s = torch.from_numpy((np.maximum(_f32(sigma), F32(1e-6)) * np.sqrt(2)).astype(np.float64)[:, None])
    cx = torch.special.erf(torch.from_numpy(np.asarray(x, np.float64)) / s)
    fx = (cx[:, 1:] - cx[:, :-1]) * torch.from_numpy(0.25 * np.asarray(w, np.float64))[:, None]
    cy = torch.special.erf(torch.from_numpy(np.asarray(y, np.float64)) / s)
    fy = cy[:, 1:] - cy[:, :-1]
    return fx.float().numpy(), fy.float().numpy()


def gauss_cell_grid(x: np.ndarray, y: np.ndarray, sigma: np.ndarray, w: np.ndarray) -> np.ndarray:
    """w·ΔΦ(x)_i·ΔΦ(y)_j, Φ(u) = ½erf(u/(σ√2)): cell integrals (M, nx−1, ny−1) of a circular
    Gaussian from its corner coordinates x (M, nx), y (M, ny), float32 (soft objects, hadrons, §0).

    Separable: the erf differences are taken per axis in float64, so far-tail cells keep their
    precision, and multiplied per cell.
    """
    fx, fy = gauss_axis_factors(x, y, sigma, w)
    return fx[:, :, None] * fy[:, None, :]


def corner_differences(g: np.ndarray) -> np.ndarray:
    """Cell integrals from a corner grid: g[1:,1:] − g[:-1,1:] − g[1:,:-1] + g[:-1,:-1] over the last two axes."""
    return g[..., 1:, 1:] - g[..., :-1, 1:] - g[..., 1:, :-1] + g[..., :-1, :-1]


def _relative_edges(edges: np.ndarray, centre: np.ndarray, periodic: bool) -> np.ndarray:
    """Edges relative to the centre, (M, n+1); φ differences wrapped once, keeping the order."""
    edges = _f32(edges)
    centre = _f32(centre)[:, None]
    if not periodic:
        return edges - centre
    first = edges[:, :1] - centre
    first = (first + F32(np.pi)) % F32(2 * np.pi) - F32(np.pi)
    return first + (edges - edges[:, :1])


def _check_edges(eta_edges: np.ndarray, phi_edges: np.ndarray, eta0: np.ndarray) -> None:
    if eta_edges.ndim != 2 or phi_edges.ndim != 2 or eta_edges.shape[0] != phi_edges.shape[0]:
        raise ValueError(
            f"cell fractions: expected eta_edges (M, nη+1) and phi_edges (M, nφ+1), got "
            f"{eta_edges.shape} and {phi_edges.shape}"
        )
    if np.shape(eta0) != (eta_edges.shape[0],):
        raise ValueError(
            f"cell fractions: expected centres of shape ({eta_edges.shape[0]},), got {np.shape(eta0)}"
        )


def cell_fractions_exact(
    eta_edges: np.ndarray,
    phi_edges: np.ndarray,
    eta0: np.ndarray,
    phi0: np.ndarray,
    R: np.ndarray,
) -> np.ndarray:
    """Exact fraction of one lateral component in each cell, (M, nη, nφ) float32 (§1.4).

    eta_edges (M, nη+1), phi_edges (M, nφ+1): increasing cell edges of each object's window;
    eta0, phi0 (M,): impact point; R (M,): component radius in (η, φ) units (R/r⊥).
    G is evaluated once per corner; φ is periodic.
    """
    return cell_fractions_two_component(eta_edges, phi_edges, eta0, phi0, R, R, np.ones(np.shape(R), F32))


def cell_fractions_two_component(
    eta_edges: np.ndarray,
    phi_edges: np.ndarray,
    eta0: np.ndarray,
    phi0: np.ndarray,
    R_C: np.ndarray,
    R_T: np.ndarray,
    p: np.ndarray,
) -> np.ndarray:
    """p·(core fractions) + (1−p)·(tail fractions): the GFlash lateral profile per cell (M, nη, nφ)."""
    eta_edges = _f32(eta_edges)
    phi_edges = _f32(phi_edges)
    _check_edges(eta_edges, phi_edges, eta0)
    X = _relative_edges(eta_edges, eta0, periodic=False)
    Y = _relative_edges(phi_edges, phi0, periodic=True)
    p = _f32(p)
    G = corner_grid(X, Y, np.stack([_f32(R_C), _f32(R_T)], axis=1), np.stack([p, 1 - p], axis=1))
    return corner_differences(G).astype(F32)


def cell_fractions_gauss(
    eta_edges: np.ndarray,
    phi_edges: np.ndarray,
    eta0: np.ndarray,
    phi0: np.ndarray,
    sigma: np.ndarray,
) -> np.ndarray:
    """Fractions of a circular Gaussian of width σ ((η, φ) units) per cell, (M, nη, nφ) float32.

    Separable erf integral, used for soft EM objects and hadronic deposits (§0 performance).
    """
    eta_edges = _f32(eta_edges)
    phi_edges = _f32(phi_edges)
    _check_edges(eta_edges, phi_edges, eta0)
    s = (np.maximum(_f32(sigma), F32(1e-6)) * F32(np.sqrt(2)))[:, None]
    cx = F32(0.5) * erf(_relative_edges(eta_edges, eta0, periodic=False) / s)
    cy = F32(0.5) * erf(_relative_edges(phi_edges, phi0, periodic=True) / s)
    fx = np.diff(cx, axis=1)
    fy = np.diff(cy, axis=1)
    return (fx[:, :, None] * fy[:, None, :]).astype(F32)


def soft_sigma(R_C: np.ndarray, R_T: np.ndarray, p: np.ndarray) -> np.ndarray:
    """σ = 0.85·(p·R_C + (1−p)·R_T): Gaussian stand-in for a soft object's profile (§0)."""
    return (F32(SOFT_SIGMA_SCALE) * (_f32(p) * _f32(R_C) + (1 - _f32(p)) * _f32(R_T))).astype(F32)
