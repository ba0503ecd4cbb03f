"""Photon-candidate windows cut from the simulated calorimeter grids (PHYSICS.md §1.2, §2.3).

The calorimeter is simulated on per-candidate grids around the candidate axis that are wide
enough to contain every window the reconstruction can place (``photon_grid_spec``). The
reconstruction then works only on measured cells (§0 rule 1):

- (η_max, φ_max): centre of the hottest L2 cell inside a (2h+1)² search window (h = 3: 7×7 [S:3]);
- L2 image 7 (η) × 11 (φ) around it; L3: the 4 back cells nearest η_max × the same 11 φ cells;
- L1: the two strip-φ cells whose centres lie within ±0.098 of φ_max, and the native strips
  resampled (area-weighted, energy-conserving) onto the nominal 56-strip grid spanning the
  7 L2 cells; the strip variables use the native strips (centres within η_max ± 0.0625);
- PS 7 × 2; Had 3 × 3 layer-1 cells on the cell containing (η₂, φ₂).
Arrays here are (N, η, φ); the generator transposes the images to axis 0 = φ on output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.physics.shower_shapes import STRIP_HALF_WINDOW
from egml.sim.atlas.calorimeter import CaloCells, GridSpec
from egml.sim.atlas.geometry import (
    ETA_EDGES,
    HAD1,
    HAD2,
    HAD3,
    L1,
    L2,
    L3,
    PS,
    LayerGrid,
    impact_eta,
    make_grid,
)

F32 = np.float32
L2_DETA = 0.025
L1_NOMINAL_PITCH = 0.025 / 8
N_STRIPS_IMAGE = 56
N_STRIPS_SHAPE = 40  # at most 40 native strips within η_max ± 0.0625
RHAD_HALF_WINDOW = 0.12  # Rhad1/Rhad: hadronic cells within ±0.12 of (η₂, φ₂) (§1.5)


def photon_grid_spec(search_half: int = 3) -> GridSpec:
    """Simulation windows (native cells) containing every reconstructable window for search half-width h."""
    if search_half < 0:
        raise ValueError(f"search_half must be ≥ 0, got {search_half}")
    h = search_half
    reach = h * L2_DETA + 0.5 * L2_DETA + 3.5 * L2_DETA + 0.00625  # hottest-cell reach + image half + margin
    n_strips = 2 * int(np.ceil(reach / L1_NOMINAL_PITCH)) + 1
    n_back = 2 * int(np.ceil((reach + 0.05) / 0.05)) + 1
    return GridSpec(
        {
            PS: (2 * h + 9, 5),
            L1: (n_strips, 5),
            L2: (2 * h + 7, 2 * h + 11),
            L3: (n_back, 2 * h + 11),
            HAD1: (5, 5),
            HAD2: (5, 5),
            HAD3: (5, 5),
        }
    )


def photon_grids(
    spec: GridSpec, axis_eta: np.ndarray, axis_phi: np.ndarray, z_v: np.ndarray
) -> dict[int, LayerGrid]:
    """Layer grids around the axis impact per layer (§0). Near the end of a layer's cell table
    (wide L1 windows at |η| ≳ 2.2) the centre is moved inwards so that the window fits; the
    window then still spans every cell the reconstruction can use (cells beyond 2.5 do not exist)."""
    grids = {}
    for layer, (ne, nph) in spec.sizes.items():
        edges = ETA_EDGES[layer]
        last = len(edges) - 2 - ne // 2  # last cell index that can centre the window
        limit = np.float32(0.5 * (edges[last] + edges[last + 1]))
        centre = np.clip(impact_eta(axis_eta, z_v, layer), -limit, limit)
        grids[layer] = make_grid(layer, centre, axis_phi, ne, nph)
    return grids


def _wrap(x: np.ndarray) -> np.ndarray:
    return ((x + np.pi) % (2 * np.pi) - np.pi).astype(F32)


def _centres(grid: LayerGrid) -> tuple[np.ndarray, np.ndarray]:
    eta = 0.5 * (grid.eta_edges[:, 1:] + grid.eta_edges[:, :-1])
    phi = 0.5 * (grid.phi_edges[:, 1:] + grid.phi_edges[:, :-1])
    return eta.astype(F32), phi.astype(F32)


def _take(a: np.ndarray, i0: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Gather n consecutive entries starting at per-row i0 along ``axis`` (1 or 2), clipped to range."""
    idx = np.clip(i0[:, None] + np.arange(n), 0, a.shape[axis] - 1)
    if axis == 1:
        return np.take_along_axis(a, idx[:, :, None] if a.ndim == 3 else idx, axis=1)
    return np.take_along_axis(a, idx[:, None, :], axis=2)


def overlap_weights(edges: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fraction of each cell (N, n) inside [lo, hi] (N,), from its edges (N, n+1)."""
    e0, e1 = edges[:, :-1], edges[:, 1:]
    ov = np.clip(np.minimum(e1, hi[:, None]) - np.maximum(e0, lo[:, None]), 0, None)
    return (ov / (e1 - e0)).astype(F32)


def batched_interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Row-wise np.interp: x (N, M), increasing xp (N, K) and fp (N, K) → (N, M)."""
    n, k = xp.shape
    off = (np.arange(n) * 16.0)[:, None]  # |η| < 3.2: rows never overlap after the offset (float64)
    flat = (xp.astype(np.float64) + off).ravel()
    j = np.searchsorted(flat, (x.astype(np.float64) + off).ravel(), side="right").reshape(x.shape) - 1
    j = np.clip(j - (np.arange(n) * k)[:, None], 0, k - 2)
    x0 = np.take_along_axis(xp, j, 1)
    x1 = np.take_along_axis(xp, j + 1, 1)
    f0 = np.take_along_axis(fp, j, 1)
    f1 = np.take_along_axis(fp, j + 1, 1)
    t = np.clip((x - x0) / np.where(x1 > x0, x1 - x0, 1), 0, 1)
    return (f0 + t * (f1 - f0)).astype(F32)


def _two_nearest_phi(dphi: np.ndarray) -> np.ndarray:
    """Grid columns (N, 2), in increasing φ, of the two cells whose centres are nearest φ_max."""
    order = np.argsort(np.abs(dphi), axis=1)[:, :2]
    return np.sort(order, axis=1)


@dataclass
class PhotonWindows:
    """Reconstructed windows and cluster sums of each candidate (energies in GeV, (N, η, φ))."""

    eta_max: np.ndarray
    phi_max: np.ndarray
    l2: np.ndarray  # (N, 7, 11)
    l2_eta: np.ndarray  # (N, 7) cell centres
    l2_dphi: np.ndarray  # (N, 11) centres relative to φ_max
    l1: np.ndarray  # (N, 56, 2) resampled to the nominal strip grid
    l3: np.ndarray  # (N, 4, 11)
    ps: np.ndarray  # (N, 7, 2)
    strip_e: np.ndarray  # (N, 40) native strips summed over the two φ cells
    strip_eta: np.ndarray
    strip_width: np.ndarray
    strip_valid: np.ndarray
    layer_sums: np.ndarray  # (N, 4) cluster sums E0..E3
    endcap: np.ndarray
    l1_cols: np.ndarray  # (N, 2) L1 grid columns used
    l1_rows: np.ndarray  # (N, n_L1) native strips inside the L2 image η range


def reconstruct_windows(cells: CaloCells, search_half: int = 3) -> PhotonWindows:
    """Hottest-cell search and window placement on the measured cells (identical for every class)."""
    h = search_half
    g2 = cells[L2].grid
    e2 = cells[L2].energy
    n = e2.shape[0]
    rows = np.arange(n)
    ne2, np2 = g2.shape
    if ne2 != 2 * h + 7 or np2 != 2 * h + 11:
        raise ValueError(f"L2 grid {g2.shape} does not match search_half={h}; use photon_grid_spec({h})")
    search = e2[:, 3 : 3 + 2 * h + 1, 5 : 5 + 2 * h + 1].reshape(n, -1)
    flat = np.argmax(search, axis=1)
    ie = 3 + flat // (2 * h + 1)
    ip = 5 + flat % (2 * h + 1)
    eta2c, phi2c = _centres(g2)
    eta_max = eta2c[rows, ie]
    phi_max = _wrap(phi2c[rows, ip])
    endcap = np.abs(eta_max) >= 1.475

    l2 = _take(_take(e2, ie - 3, 7, 1), ip - 5, 11, 2)
    l2_eta = _take(eta2c, ie - 3, 7, 1)
    l2_dphi = _wrap(_take(phi2c, ip - 5, 11, 1) - phi_max[:, None])
    half = np.where(endcap, 2.5, 1.5).astype(F32) * F32(L2_DETA)  # 3×7 barrel, 5×5 endcap
    clus_lo, clus_hi = eta_max - half, eta_max + half
    l2_cols = np.where(endcap[:, None], np.abs(np.arange(11) - 5) <= 2, np.abs(np.arange(11) - 5) <= 3)
    e_l2 = np.where(np.abs(np.arange(7) - 3)[None, :, None] <= np.where(endcap, 2, 1)[:, None, None], l2, 0)
    e_l2 = np.where(l2_cols[:, None, :], e_l2, 0).sum(axis=(1, 2))

    # L1: two strip-φ cells, native strips, nominal 56-strip image
    g1 = cells[L1].grid
    eta1c, phi1c = _centres(g1)
    cols = _two_nearest_phi(_wrap(phi1c - phi_max[:, None]))
    e1 = np.take_along_axis(cells[L1].energy, cols[:, None, :], axis=2)  # (N, nη1, 2)
    edges1 = g1.eta_edges.astype(F32)
    img_lo = eta_max - F32(3.5 * L2_DETA)
    nominal = img_lo[:, None] + F32(L1_NOMINAL_PITCH) * np.arange(N_STRIPS_IMAGE + 1, dtype=F32)
    cum = np.concatenate([np.zeros((n, 1, 2), F32), np.cumsum(e1, axis=1)], axis=1)
    l1 = np.stack([np.diff(batched_interp(nominal, edges1, cum[:, :, c]), axis=1) for c in range(2)], axis=2)
    e1s = e1.sum(axis=2)
    width1 = np.diff(edges1, axis=1)
    start = np.argmax(eta1c >= (eta_max - F32(STRIP_HALF_WINDOW) - 1e-5)[:, None], axis=1)
    strip_eta = _take(eta1c, start, N_STRIPS_SHAPE, 1)
    strip_width = _take(width1, start, N_STRIPS_SHAPE, 1)
    strip_e = _take(e1s, start, N_STRIPS_SHAPE, 1)
    strip_exists = _take(g1.exists[:, :, 0], start, N_STRIPS_SHAPE, 1)
    idx_ok = (start[:, None] + np.arange(N_STRIPS_SHAPE)) < e1s.shape[1]
    strip_valid = idx_ok & strip_exists & (np.abs(strip_eta - eta_max[:, None]) <= STRIP_HALF_WINDOW + 1e-5)
    e_l1 = (e1s * overlap_weights(edges1, clus_lo, clus_hi)).sum(axis=1)
    l1_rows = overlap_weights(edges1, img_lo, img_lo + F32(7 * L2_DETA)) > 0.5

    # L3: the 4 back cells nearest η_max, the same 11 φ cells as L2 (same φ pitch, aligned)
    g3 = cells[L3].grid
    _, phi3c = _centres(g3)
    j3 = np.argmin(np.abs(g3.eta_edges[:, 2:-2] - eta_max[:, None]), axis=1)
    c3 = np.argmin(np.abs(_wrap(phi3c - phi_max[:, None])), axis=1)
    l3 = _take(_take(cells[L3].energy, j3, 4, 1), c3 - 5, 11, 2)
    l3_cols = np.where(endcap[:, None], np.abs(np.arange(11) - 5) <= 2, np.abs(np.arange(11) - 5) <= 3)
    l3_eta_w = overlap_weights(_take(g3.eta_edges, j3, 5, 1), clus_lo, clus_hi)
    e_l3 = (l3 * l3_eta_w[:, :, None] * l3_cols[:, None, :]).sum(axis=(1, 2))

    # PS: 7 η cells around η_max (same pitch as L2), the two φ cells nearest φ_max
    g0 = cells[PS].grid
    eta0c, phi0c = _centres(g0)
    j0 = np.argmin(np.abs(eta0c - eta_max[:, None]), axis=1)
    ps = np.take_along_axis(
        _take(cells[PS].energy, j0 - 3, 7, 1),
        _two_nearest_phi(_wrap(phi0c - phi_max[:, None]))[:, None, :],
        axis=2,
    )
    ps_w = overlap_weights(_take(g0.eta_edges, j0 - 3, 8, 1), clus_lo, clus_hi)
    e_ps = (ps.sum(axis=2) * ps_w).sum(axis=1)

    return PhotonWindows(
        eta_max=eta_max,
        phi_max=phi_max,
        l2=l2,
        l2_eta=l2_eta,
        l2_dphi=l2_dphi,
        l1=l1.astype(F32),
        l3=l3,
        ps=ps,
        strip_e=strip_e,
        strip_eta=strip_eta,
        strip_width=strip_width,
        strip_valid=strip_valid,
        layer_sums=np.stack([e_ps, e_l1, e_l2, e_l3], axis=1).astype(F32),
        endcap=endcap,
        l1_cols=cols,
        l1_rows=l1_rows,
    )


def hadronic_windows(
    cells: CaloCells, eta2: np.ndarray, phi2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Had image (N, 3, 3) of layer-1 cells on the cell containing (η₂, φ₂), and the Rhad1/Rhad
    numerators: Σ E over cells with centres within ±0.12 of (η₂, φ₂), layer 1 / all layers."""
    sums = []
    for layer in (HAD1, HAD2, HAD3):
        g = cells[layer].grid
        ec, pc = _centres(g)
        sel = (np.abs(ec - eta2[:, None]) <= RHAD_HALF_WINDOW)[:, :, None] & (
            np.abs(_wrap(pc - phi2[:, None])) <= RHAD_HALF_WINDOW
        )[:, None, :]
        sums.append(np.where(sel, cells[layer].energy, 0).sum(axis=(1, 2)))
        if layer == HAD1:
            je = np.argmin(np.abs(ec - eta2[:, None]), axis=1)
            jp = np.argmin(np.abs(_wrap(pc - phi2[:, None])), axis=1)
            img = _take(_take(cells[layer].energy, je - 1, 3, 1), jp - 1, 3, 2)
    return img, sums[0].astype(F32), (sums[0] + sums[1] + sums[2]).astype(F32)
