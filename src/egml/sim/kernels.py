"""Fused numba kernels of the generator's hot loops (PHYSICS.md §0 performance, §1.4).

Each kernel is a plain sequential loop (no ``parallel=True``: the speed figure is per core and the
output must not depend on threading), compiled once and cached on disk (``cache=True``), float32
inside like the NumPy/torch code it replaces. ``atan32`` is a branch-free float32 arctan (Cephes
``atanf``: reduction to |t| ≤ tan(π/8) and a degree-9 odd polynomial, max error ≈ 1 ulp) that
LLVM vectorises in the inner loops, about 4× faster than torch's and 10× faster than libm's.
``error_model="numpy"`` drops numba's ZeroDivisionError checks, which would block vectorisation
(a float division by zero gives inf/NaN as in NumPy).
"""

from __future__ import annotations

import numba
import numpy as np

F32 = np.float32
_PI = F32(np.pi)
_TWO_PI = F32(2 * np.pi)
_INV_TWO_PI = F32(1 / (2 * np.pi))
_HALF_PI = F32(np.pi / 2)
_QUARTER_PI = F32(np.pi / 4)
_TAN_3PI_8 = F32(2.414213562373095)
_TAN_PI_8 = F32(0.4142135623730950)
_C3, _C2, _C1, _C0 = (
    F32(8.05374449538e-2),
    F32(-1.38776856032e-1),
    F32(1.99777106478e-1),
    F32(-3.33329491539e-1),
)
_ONE, _ZERO = F32(1.0), F32(0.0)
LANES = 8  # float32 lanes of an AVX2 vector


@numba.njit(inline="always", cache=True, error_model="numpy")
def atan32(x: float) -> float:
    """float32 arctan without branches (selects only), so that loops calling it vectorise."""
    a = abs(x)
    big = a > _TAN_3PI_8
    mid = a > _TAN_PI_8
    num = -_ONE if big else (a - _ONE if mid else a)
    den = a if big else (a + _ONE if mid else _ONE)
    t = num / den
    off = _HALF_PI if big else (_QUARTER_PI if mid else _ZERO)
    z = t * t
    r = off + ((((_C3 * z + _C2) * z + _C1) * z + _C0) * z * t + t)
    return r if x >= _ZERO else -r


@numba.njit(cache=True, error_model="numpy")
def atan32_array(x: np.ndarray) -> np.ndarray:
    """``atan32`` on a flat float32 array (for tests and benchmarks)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = atan32(x[i])
    return out


@numba.njit(cache=True, error_model="numpy")
def _wrap(d: float) -> float:
    # (d + π) % 2π − π exactly as NumPy's float32 ``%`` (fmod, then shifted to the divisor's sign)
    r = np.fmod(d + _PI, _TWO_PI)
    if r < _ZERO:
        r += _TWO_PI
    return r - _PI


@numba.njit(cache=True, error_model="numpy")
def _relative(edges: np.ndarray, c: int, x0: float, periodic: bool, out: np.ndarray) -> None:
    # window edges of candidate c relative to the object at x0 (φ: first edge wrapped, order kept)
    if periodic:
        first = _wrap(edges[c, 0] - x0)
        for i in range(edges.shape[1]):
            out[i] = first + (edges[c, i] - edges[c, 0])
    else:
        for i in range(edges.shape[1]):
            out[i] = edges[c, i] - x0


@numba.njit(cache=True, error_model="numpy")
def exact_corner_sum(
    cand: np.ndarray,
    u0: np.ndarray,
    v0: np.ndarray,
    energy: np.ndarray,
    r_c: np.ndarray,
    r_t: np.ndarray,
    p: np.ndarray,
    u_edges: np.ndarray,
    v_edges: np.ndarray,
    u_periodic: bool,
    v_periodic: bool,
    acc: np.ndarray,
) -> None:
    """acc[cand_m] += E_m·[p_m·G(u−u0_m, v−v0_m; R_C,m) + (1−p_m)·G(…; R_T,m)] on the corner grid.

    cand (M,) int64; u0, v0, energy, r_c, r_t, p (M,) float32; u_edges (N, nu), v_edges (N, nv)
    float32 corner coordinates of each candidate's window; acc (N, nu, nv) float32, updated in
    place in the order of m. A periodic axis (φ) is taken relative to the object with the first
    edge wrapped once into [−π, π) and the edges' order kept.
    G(X, Y; R) = (1/2π)[(X/a)·atan(Y/a) + (Y/b)·atan(X/b)], a = √(X²+R²), b = √(Y²+R²) (§1.4);
    G is symmetric in (X, Y), so callers put the longer axis last (the vectorised inner loop).
    The inner loop runs over nv rounded up to a multiple of 8 (padding: copies of the last edge,
    discarded), so that it is whole AVX vectors: 12 corners otherwise end in a scalar remainder
    loop that costs as much as the vector part (same float32 operations per corner, same result).
    """
    nu, nv = u_edges.shape[1], v_edges.shape[1]
    nvp = (nv + LANES - 1) // LANES * LANES
    u = np.empty(nu, F32)
    v = np.empty(nvp, F32)
    inv_b = np.empty((2, nvp), F32)
    vb = np.empty((2, nvp), F32)
    g = np.empty(nvp, F32)
    for m in range(len(cand)):
        c = cand[m]
        _relative(u_edges, c, u0[m], u_periodic, u)
        _relative(v_edges, c, v0[m], v_periodic, v)
        for j in range(nv, nvp):
            v[j] = v[nv - 1]
        w0 = energy[m] * p[m] * _INV_TWO_PI
        w1 = energy[m] * (_ONE - p[m]) * _INV_TWO_PI
        rr0 = r_c[m] * r_c[m]
        rr1 = r_t[m] * r_t[m]
        for j in range(nvp):
            b0 = _ONE / np.sqrt(v[j] * v[j] + rr0)
            b1 = _ONE / np.sqrt(v[j] * v[j] + rr1)
            inv_b[0, j] = b0
            inv_b[1, j] = b1
            vb[0, j] = v[j] * b0 * w0
            vb[1, j] = v[j] * b1 * w1
        for i in range(nu):
            x = u[i]
            a0 = _ONE / np.sqrt(x * x + rr0)
            a1 = _ONE / np.sqrt(x * x + rr1)
            xa0 = x * a0 * w0
            xa1 = x * a1 * w1
            for j in range(nvp):
                y = v[j]
                g0 = xa0 * atan32(y * a0) + vb[0, j] * atan32(x * inv_b[0, j])
                g1 = xa1 * atan32(y * a1) + vb[1, j] * atan32(x * inv_b[1, j])
                g[j] = g0 + g1
            row = acc[c, i]
            for j in range(nv):
                row[j] += g[j]


@numba.njit(cache=True, error_model="numpy")
def scatter_cells(
    keep: np.ndarray,
    energy: np.ndarray,
    sigma: np.ndarray,
    ieta0: np.ndarray,
    phi_c: np.ndarray,
    cos_c: np.ndarray,
    sin_c: np.ndarray,
    eta_t: np.ndarray,
    r_t: np.ndarray,
    z_t: np.ndarray,
    layer: int,
    pos: np.ndarray,
    out_f: np.ndarray,
    out_layer: np.ndarray,
) -> None:
    """Write the kept cells (N, nη, nφ) of one layer window to the flat cell lists.

    Cell k of candidate c goes to position pos[c] (then pos[c] += 1), in (η, φ) order; out_f rows
    are e, η, φ, x, y, z, σ (float32); η, r⊥ and z come from the tables of global η rows
    (ieta0[c] + i), φ, cos φ and sin φ from the window's cell centres (N, nφ).
    """
    n, ne, nph = keep.shape
    for c in range(n):
        k = pos[c]
        for i in range(ne):
            g = ieta0[c] + i
            for j in range(nph):
                if keep[c, i, j]:
                    out_f[0, k] = energy[c, i, j]
                    out_f[1, k] = eta_t[g]
                    out_f[2, k] = phi_c[c, j]
                    out_f[3, k] = r_t[g] * cos_c[c, j]
                    out_f[4, k] = r_t[g] * sin_c[c, j]
                    out_f[5, k] = z_t[g]
                    out_f[6, k] = sigma[c, i, j]
                    out_layer[k] = layer
                    k += 1
        pos[c] = k


@numba.njit(cache=True, error_model="numpy")
def kept_cells(
    rows: np.ndarray,
    cols: np.ndarray,
    exists: np.ndarray,
    energy: np.ndarray,
    sigma: np.ndarray,
    nsigma: float,
    counts: np.ndarray,
) -> np.ndarray:
    """keep (N, nη, nφ) = rows[c, i] & cols[c, j] & exists & (|E| > nsigma·σ, float32); counts[c]
    += the kept cells of candidate c. rows (N, nη), cols (N, nφ) bool."""
    n, ne, nph = exists.shape
    k = F32(nsigma)
    keep = np.empty((n, ne, nph), np.bool_)
    for c in range(n):
        total = 0
        for i in range(ne):
            for j in range(nph):
                kept = rows[c, i] & cols[c, j] & exists[c, i, j] & (abs(energy[c, i, j]) > k * sigma[c, i, j])
                keep[c, i, j] = kept
                total += kept
        counts[c] += total
    return keep


@numba.njit(cache=True, error_model="numpy")
def cell_response(
    expected: np.ndarray,
    noise: np.ndarray,
    a: np.ndarray,
    s_el: np.ndarray,
    s_pu: np.ndarray,
    cal_map: np.ndarray,
    ieta0: np.ndarray,
    iphi0: np.ndarray,
    exists: np.ndarray,
    split: bool,
    energy: np.ndarray,
    sigma: np.ndarray,
    noise_el: np.ndarray,
    noise_pu: np.ndarray,
    m: np.ndarray,
) -> None:
    """§1.5 response of one window in one pass (``atlas.response.cell_response``).

    expected, m, exists, energy, sigma (N, nη, nφ); noise (k, N, nη, nφ) standard normals; a, s_el,
    s_pu (N, nη) per row (s_pu already × √(μ/40)). E = m·(λ + a·√max(λ, 0)·N₁) + σ_el·N₂ + σ_pu·N₃
    (split) or + √(σ_el² + σ_pu²)·N₂; cells that do not exist are exactly +0 with σ = 0.
    noise_el/noise_pu are written only when ``split``. m (out): the calibration m_c, gathered from
    the flat map (n_eta_table, n_phi_table) of the layer at global row clip(ieta0 + i) and column
    (iphi0 + j) mod n_phi_table.
    """
    n, ne, nph = expected.shape
    n_phi_tab = np.int64(cal_map.shape[1])
    n_eta_tab = np.int64(cal_map.shape[0])
    # flat views and one φ column table per candidate: no per-cell multi-index or modulo
    lam_f, ex_f, n0, n1 = expected.reshape(-1), exists.reshape(-1), noise[0].reshape(-1), noise[1].reshape(-1)
    e_f, s_f, m_f, cal_f = energy.reshape(-1), sigma.reshape(-1), m.reshape(-1), cal_map.reshape(-1)
    col = np.empty(nph, np.int64)
    for c in range(n):
        for j in range(nph):
            col[j] = (iphi0[c] + j) % n_phi_tab
        for i in range(ne):
            ai, el, pu = a[c, i], s_el[c, i], s_pu[c, i]
            sig = np.sqrt(el * el + pu * pu)
            base = min(max(ieta0[c] + i, 0), n_eta_tab - 1) * n_phi_tab
            k0 = (c * ne + i) * nph
            for j in range(nph):
                k = k0 + j
                mc = cal_f[base + col[j]]
                m_f[k] = mc
                ex = ex_f[k]
                lam = lam_f[k]
                e = np.sqrt(max(lam, _ZERO)) * ai * n0[k] + lam
                e *= mc if ex else _ZERO
                if split:
                    ne_ = el * n1[k] if ex else _ZERO
                    np_ = pu * noise[2, c, i, j] if ex else _ZERO
                    noise_el[c, i, j] = ne_
                    noise_pu[c, i, j] = np_
                    e += ne_
                    e += np_
                else:
                    e += n1[k] * (sig if ex else _ZERO)
                e_f[k] = e + _ZERO
                s_f[k] = sig if ex else _ZERO


@numba.njit(cache=True, error_model="numpy")
def outer_scatter(cand: np.ndarray, fu: np.ndarray, fv: np.ndarray, acc: np.ndarray) -> None:
    """acc[cand_m] += fu_m ⊗ fv_m in the order of m: separable (Gaussian) cell integrals,
    fu (M, nu), fv (M, nv), acc (N, nu, nv) float32."""
    nu, nv = fu.shape[1], fv.shape[1]
    for m in range(len(cand)):
        c = cand[m]
        for i in range(nu):
            f = fu[m, i]
            row = acc[c, i]
            for j in range(nv):
                row[j] += f * fv[m, j]


@numba.njit(cache=True, error_model="numpy")
def near_window(
    cand: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    energy: np.ndarray,
    margin: np.ndarray,
    eta_edges: np.ndarray,
    phi_edges: np.ndarray,
) -> np.ndarray:
    """(M,) True where objects of positive energy at (η, φ) lie within their candidate's window
    ± margin (``deposits._near_window``, float32 as there); margin (M,) or (1,) for all."""
    out = np.empty(len(cand), np.bool_)
    half = F32(0.5)
    for m in range(len(cand)):
        c = cand[m]
        mg = margin[m if len(margin) > 1 else 0]
        lo, hi = eta_edges[c, 0], eta_edges[c, eta_edges.shape[1] - 1]
        p0, p1 = phi_edges[c, 0], phi_edges[c, phi_edges.shape[1] - 1]
        pc, ph = half * (p0 + p1), half * (p1 - p0)
        out[m] = (
            (energy[m] > _ZERO)
            & (eta[m] > lo - mg)
            & (eta[m] < hi + mg)
            & (abs(_wrap(phi[m] - pc)) < ph + mg)
        )
    return out


@numba.njit(cache=True, error_model="numpy")
def gauss_erf_args(
    cand: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    s: np.ndarray,
    eta_edges: np.ndarray,
    phi_edges: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """erf arguments of the Gaussian cell integrals: (edge − centre)/s per object, float64
    (M, nη+1) and (M, nφ+1); the edge differences are float32 (φ: first edge wrapped, order
    kept), then divided in float64 by s = σ√2 (M,), as ``shower.gauss_axis_factors``."""
    m_n, nx, ny = len(cand), eta_edges.shape[1], phi_edges.shape[1]
    x = np.empty((m_n, nx))
    y = np.empty((m_n, ny))
    u = np.empty(nx, F32)
    v = np.empty(ny, F32)
    for m in range(m_n):
        _relative(eta_edges, cand[m], eta[m], False, u)
        _relative(phi_edges, cand[m], phi[m], True, v)
        for i in range(nx):
            x[m, i] = np.float64(u[i]) / s[m]
        for j in range(ny):
            y[m, j] = np.float64(v[j]) / s[m]
    return x, y


@numba.njit(cache=True, error_model="numpy")
def gauss_scatter(cand: np.ndarray, cx: np.ndarray, cy: np.ndarray, w: np.ndarray, acc: np.ndarray) -> None:
    """acc[cand_m] += fx_m ⊗ fy_m in the order of m, fx = float32(w·Δerf(x)), fy = float32(Δerf(y))
    from the float64 erf at the corners cx (M, nx+1), cy (M, ny+1); w (M,) float64, acc (N, nx, ny)
    (``outer_scatter`` of ``shower.gauss_axis_factors``, without the intermediate arrays)."""
    nx, ny = cx.shape[1] - 1, cy.shape[1] - 1
    fx = np.empty(nx, F32)
    fy = np.empty(ny, F32)
    for m in range(len(cand)):
        c = cand[m]
        for i in range(nx):
            fx[i] = F32((cx[m, i + 1] - cx[m, i]) * w[m])
        for j in range(ny):
            fy[j] = F32(cy[m, j + 1] - cy[m, j])
        for i in range(nx):
            f = fx[i]
            row = acc[c, i]
            for j in range(ny):
                row[j] += f * fy[j]


@numba.njit(cache=True, error_model="numpy")
def finish_cells(acc: np.ndarray, acc_g: np.ndarray, swap: bool) -> np.ndarray:
    """Cells (N, nη, nφ) = corner differences of the exact corner sums acc ((N, nη+1, nφ+1), or
    (N, nφ+1, nη+1) when ``swap``) + the separable cell sums acc_g, float32."""
    n, ne, nph = acc_g.shape
    out = np.empty((n, ne, nph), F32)
    for c in range(n):
        for i in range(ne):
            for j in range(nph):
                if swap:
                    d = acc[c, j + 1, i + 1] - acc[c, j, i + 1] - acc[c, j + 1, i] + acc[c, j, i]
                else:
                    d = acc[c, i + 1, j + 1] - acc[c, i, j + 1] - acc[c, i + 1, j] + acc[c, i, j]
                out[c, i, j] = d + acc_g[c, i, j]
    return out


@numba.njit(cache=True, error_model="numpy")
def merge_window(old: np.ndarray, new: np.ndarray, di: np.ndarray, dj: np.ndarray) -> np.ndarray:
    """new (N, nη, nφ) with the cells also in ``old`` (N, mη, mφ) taken from old: cell (i, j) of
    candidate c is cell (i + di[c], j + dj[c]) of its old window where that exists."""
    n, ne, nph = new.shape
    mo, po = old.shape[1], old.shape[2]
    out = new.copy()
    for c in range(n):
        for i in range(ne):
            io = i + di[c]
            if io < 0 or io >= mo:
                continue
            for j in range(nph):
                jo = j + dj[c]
                if 0 <= jo < po:
                    out[c, i, j] = old[c, io, jo]
    return out


@numba.njit(cache=True, error_model="numpy")
def resample_strips(e: np.ndarray, edges: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    """Area-weighted, energy-conserving resampling of strips onto nominal edges, per row.

    e (R, n, C) strip energies with edges (R, n+1) increasing; nominal (R, m+1). Returns (R, m, C):
    differences of the cumulative energy linearly interpolated at the nominal edges (clamped to
    the window's ends), as ``photon_windows.batched_interp`` on ``np.cumsum`` (float32).
    """
    r_n, n, n_c = e.shape
    m = nominal.shape[1] - 1
    out = np.empty((r_n, m, n_c), F32)
    cum = np.empty((n + 1, n_c), F32)
    vals = np.empty((m + 1, n_c), F32)
    for r in range(r_n):
        for c in range(n_c):
            cum[0, c] = _ZERO
            for k in range(n):
                cum[k + 1, c] = cum[k, c] + e[r, k, c]
        j = 0
        for q in range(m + 1):
            x = nominal[r, q]
            while j < n and edges[r, j + 1] <= x:  # j = (last edge ≤ x), clipped to [0, n − 1]
                j += 1
            jj = min(j, n - 1)
            x0, x1 = edges[r, jj], edges[r, jj + 1]
            t = (x - x0) / (x1 - x0 if x1 > x0 else _ONE)
            t = min(max(t, _ZERO), _ONE)
            for c in range(n_c):
                vals[q, c] = cum[jj, c] + t * (cum[jj + 1, c] - cum[jj, c])
        for q in range(m):
            for c in range(n_c):
                out[r, q, c] = vals[q + 1, c] - vals[q, c]
    return out


@numba.njit(cache=True, error_model="numpy")
def corner_grid(x: np.ndarray, y: np.ndarray, r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ_c w_mc·G(x_mi, y_mj; R_mc) per object, (M, nx, ny) float32 (``shower.corner_grid``).

    x (M, nx), y (M, ny), r and w (M, C) float32; G as in ``exact_corner_sum``. Each component adds
    (w·x/a)·atan(y/a) + (w·y/b)·atan(x/b), so swapping x and y transposes the result exactly.
    """
    m_n, nx = x.shape
    ny = y.shape[1]
    out = np.zeros((m_n, nx, ny), F32)
    inv_b = np.empty(ny, F32)
    yb = np.empty(ny, F32)
    for m in range(m_n):
        for c in range(r.shape[1]):
            rr = r[m, c] * r[m, c]
            wc = w[m, c] * _INV_TWO_PI
            for j in range(ny):
                b = _ONE / np.sqrt(y[m, j] * y[m, j] + rr)
                inv_b[j] = b
                yb[j] = wc * y[m, j] * b
            for i in range(nx):
                xi = x[m, i]
                a = _ONE / np.sqrt(xi * xi + rr)
                xa = wc * xi * a
                row = out[m, i]
                for j in range(ny):
                    row[j] += xa * atan32(y[m, j] * a) + yb[j] * atan32(xi * inv_b[j])
    return out
