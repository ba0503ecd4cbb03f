"""Photon-candidate windows cut from the simulated calorimeter grids (PHYSICS.md §1.2, §2.3).

The calorimeter is simulated in three stages (``simulate_calorimeter(place=...)``), so that only
cells the reconstruction reads are simulated: the L2 search window around the candidate axis
(``search_grid``); the L2 image, L1, L3 and PS windows around the measured maximum
(``window_grids``; search cells inside the image keep their measurement); the hadronic cells
around (η₂, φ₂) (``hadronic_grids``). The reconstruction works only on measured cells (§0 rule 1):

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
from numpy.lib.stride_tricks import sliding_window_view

from egml.physics.shower_shapes import STRIP_HALF_WINDOW
from egml.sim.atlas.calorimeter import CaloCells, LayerCells
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
from egml.sim.kernels import resample_strips

F32 = np.float32
L2_DETA = 0.025
L1_NOMINAL_PITCH = 0.025 / 8
N_STRIPS_IMAGE = 56
N_STRIPS_SHAPE = 40  # at most 40 native strips within η_max ± 0.0625
RHAD_HALF_WINDOW = 0.12  # Rhad1/Rhad: hadronic cells within ±0.12 of (η₂, φ₂) (§1.5)


L1_WINDOW_STRIPS = 60  # native strips simulated around η_max: the 56-strip image span + 2 each side
HAD_WINDOW = 3  # hadronic cells: 3 × 3 on the cell containing (η₂, φ₂) hold every Rhad cell


def search_grid(
    axis_eta: np.ndarray, axis_phi: np.ndarray, z_v: np.ndarray, search_half: int = 3
) -> LayerGrid:
    """First stage: the (2h+1)² L2 search window on the cell containing the axis impact (§0).
    Near the end of the cell table the centre is moved inwards so that the window fits."""
    if search_half < 0:
        raise ValueError(f"search_half must be ≥ 0, got {search_half}")
    size = 2 * search_half + 1
    edges = ETA_EDGES[L2]
    last = len(edges) - 2 - size // 2  # last cell index that can centre the window
    limit = np.float32(0.5 * (edges[last] + edges[last + 1]))
    centre = np.clip(impact_eta(axis_eta, z_v, L2), -limit, limit)
    return make_grid(L2, centre, axis_phi, size, size)


def search_max(cells: LayerCells) -> tuple[np.ndarray, np.ndarray]:
    """(η_max, φ_max): centre of the hottest cell of the measured search window [S:3]."""
    n = cells.energy.shape[0]
    nph = cells.grid.shape[1]
    flat = np.argmax(cells.energy.reshape(n, -1), axis=1)
    eta_c, phi_c = _centres(cells.grid)
    rows = np.arange(n)
    return eta_c[rows, flat // nph], _wrap(phi_c[rows, flat % nph])


def window_grids(eta_max: np.ndarray, phi_max: np.ndarray) -> dict[int, LayerGrid]:
    """Second stage, detector cells around the hottest L2 cell (η_max, φ_max): the L2 image
    7 × 11 (cells of the search window keep their measurement), L1 the 60 native strips nearest
    η_max (the 56-strip image span, 7 L2 cells, with margin) × the 2 strip-φ cells nearest φ_max,
    L3 the 4 back cells nearest η_max × 11 φ cells, PS 7 × 2."""
    return {
        PS: make_grid(PS, eta_max, phi_max, 7, 2),
        L1: make_grid(L1, eta_max, phi_max, L1_WINDOW_STRIPS, 2),
        L2: make_grid(L2, eta_max, phi_max, 7, 11),
        L3: make_grid(L3, eta_max, phi_max, 4, 11),
    }


def hadronic_grids(
    eta_max: np.ndarray, phi_max: np.ndarray, eta2: np.ndarray, phi2: np.ndarray
) -> dict[int, LayerGrid]:
    """Third stage: hadronic 3 × 3 on the cell containing (η₂, φ₂) (clamped to ±0.1 of
    η_max/φ_max, where a noise-only cluster has no meaningful barycentre)."""
    eta_h = np.where(np.isfinite(eta2), np.clip(eta2, eta_max - 0.1, eta_max + 0.1), eta_max)
    phi_h = phi_max + np.where(np.isfinite(phi2), np.clip(_wrap(phi2 - phi_max), -0.1, 0.1), 0)
    return {la: make_grid(la, eta_h, phi_h, HAD_WINDOW, HAD_WINDOW) for la in (HAD1, HAD2, HAD3)}


def _wrap(x: np.ndarray) -> np.ndarray:
    return ((x + np.pi) % (2 * np.pi) - np.pi).astype(F32)


def _centres(grid: LayerGrid) -> tuple[np.ndarray, np.ndarray]:
    eta = 0.5 * (grid.eta_edges[:, 1:] + grid.eta_edges[:, :-1])
    phi = 0.5 * (grid.phi_edges[:, 1:] + grid.phi_edges[:, :-1])
    return eta.astype(F32), phi.astype(F32)


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


def _l1_image(e1: np.ndarray, edges: np.ndarray, width: np.ndarray, img_lo: np.ndarray) -> np.ndarray:
    """Native strips (N, n, 2) → the nominal 56-strip image (N, 56, 2) starting at img_lo.

    Where every strip of the window has the nominal pitch (barrel) the image is a slice of the
    native strips (its edges are L2 cell edges, hence strip edges); elsewhere the strips are split
    area-weighted and energy-conserving (cumulative sums interpolated at the nominal edges).
    """
    n = len(e1)
    pitch = F32(L1_NOMINAL_PITCH)
    k = np.rint((img_lo - edges[:, 0]) / pitch).astype(np.int64)
    direct = (
        np.all(np.abs(width - pitch) < F32(1e-6), axis=1) & (k >= 0) & (k + N_STRIPS_IMAGE <= e1.shape[1])
    )
    out = np.empty((n, N_STRIPS_IMAGE, 2), F32)
    rows = np.flatnonzero(direct)
    # = e1[rows[:, None], k[rows, None] + np.arange(56)]: one 56-strip window view per row (no index grid)
    out[rows] = sliding_window_view(e1, N_STRIPS_IMAGE, axis=1)[rows, k[rows]].transpose(0, 2, 1)
    rows = np.flatnonzero(~direct)
    if len(rows):
        nominal = img_lo[rows, None] + pitch * np.arange(N_STRIPS_IMAGE + 1, dtype=F32)
        out[rows] = resample_strips(
            np.ascontiguousarray(e1[rows], dtype=F32), np.ascontiguousarray(edges[rows], dtype=F32), nominal
        )
    return out


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


@dataclass
class L2Window:
    """Hottest L2 cell of the search window and the 7 × 11 L2 image around it, (N, η, φ)."""

    eta_max: np.ndarray
    phi_max: np.ndarray
    l2: np.ndarray
    l2_eta: np.ndarray
    l2_dphi: np.ndarray
    endcap: np.ndarray


def l2_window(cells: LayerCells, eta_max: np.ndarray, phi_max: np.ndarray) -> L2Window:
    """The measured 7 × 11 L2 image of ``window_grids`` around (η_max, φ_max) (§1.2)."""
    if cells.grid.shape != (7, 11):
        raise ValueError(f"L2 grid {cells.grid.shape}: expected the 7 × 11 image of window_grids")
    eta_c, phi_c = _centres(cells.grid)
    return L2Window(
        eta_max, phi_max, cells.energy, eta_c, _wrap(phi_c - phi_max[:, None]), np.abs(eta_max) >= 1.475
    )


def reconstruct_windows(cells: CaloCells, w2: L2Window) -> PhotonWindows:
    """Images, strip arrays and cluster sums on the measured windows (identical for every class).

    w2: the ``l2_window`` of these cells (computed for the third-stage placement).
    """
    eta_max, phi_max, endcap, l2 = w2.eta_max, w2.phi_max, w2.endcap, w2.l2
    n = len(eta_max)
    half = np.where(endcap, 2.5, 1.5).astype(F32) * F32(L2_DETA)  # 3×7 barrel, 5×5 endcap
    clus_lo, clus_hi = eta_max - half, eta_max + half
    l2_rows = np.abs(np.arange(7) - 3) <= np.where(endcap, 2, 1)[:, None]
    l2_cols = np.abs(np.arange(11) - 5) <= np.where(endcap, 2, 3)[:, None]
    e_l2 = np.where(l2_rows[:, :, None] & l2_cols[:, None, :], l2, 0).sum(axis=(1, 2))

    # L1 (window of ``window_grids``: native strips × the two strip-φ cells nearest φ_max)
    g1 = cells[L1].grid
    if g1.shape != (L1_WINDOW_STRIPS, 2):
        raise ValueError(f"L1 grid {g1.shape}: expected the ({L1_WINDOW_STRIPS}, 2) window of window_grids")
    e1 = cells[L1].energy
    edges1 = g1.eta_edges.astype(F32)
    eta1c = F32(0.5) * (edges1[:, 1:] + edges1[:, :-1])
    width1 = np.diff(edges1, axis=1)
    img_lo = eta_max - F32(3.5 * L2_DETA)
    l1 = _l1_image(e1, edges1, width1, img_lo)
    e1s = e1[:, :, 0] + e1[:, :, 1]  # the two strip-φ cells (a length-2 axis sum, without np.sum's overhead)
    start = np.argmax(eta1c >= (eta_max - F32(STRIP_HALF_WINDOW) - 1e-5)[:, None], axis=1)
    idx = start[:, None] + np.arange(N_STRIPS_SHAPE)
    flat = np.minimum(idx, L1_WINDOW_STRIPS - 1) + (np.arange(n) * L1_WINDOW_STRIPS)[:, None]
    strip_eta = eta1c.take(flat)
    strip_width = width1.take(flat)
    strip_e = e1s.take(flat)
    strip_exists = g1.exists[:, :, 0].take(flat)
    strip_valid = (
        (idx < L1_WINDOW_STRIPS)
        & strip_exists
        & (np.abs(strip_eta - eta_max[:, None]) <= STRIP_HALF_WINDOW + 1e-5)
    )
    e_l1 = (e1s * overlap_weights(edges1, clus_lo, clus_hi)).sum(axis=1)
    l1_rows = overlap_weights(edges1, img_lo, img_lo + F32(7 * L2_DETA)) > 0.5

    # L3 (4 back cells nearest η_max × the same 11 φ cells as L2) and PS (7 × 2): whole windows
    l3 = cells[L3].energy
    phi_cols = np.abs(np.arange(11) - 5) <= np.where(endcap, 2, 3)[:, None]  # 3×7 barrel, 5×5 endcap
    l3_eta_w = overlap_weights(cells[L3].grid.eta_edges, clus_lo, clus_hi)
    e_l3 = (l3 * l3_eta_w[:, :, None] * phi_cols[:, None, :]).sum(axis=(1, 2))
    ps = cells[PS].energy
    e_ps = ((ps[:, :, 0] + ps[:, :, 1]) * overlap_weights(cells[PS].grid.eta_edges, clus_lo, clus_hi)).sum(
        axis=1
    )

    return PhotonWindows(
        eta_max=eta_max,
        phi_max=phi_max,
        l2=l2,
        l2_eta=w2.l2_eta,
        l2_dphi=w2.l2_dphi,
        l1=l1.astype(F32),
        l3=l3,
        ps=ps,
        strip_e=strip_e,
        strip_eta=strip_eta,
        strip_width=strip_width,
        strip_valid=strip_valid,
        layer_sums=np.stack([e_ps, e_l1, e_l2, e_l3], axis=1).astype(F32),
        endcap=endcap,
        l1_cols=np.broadcast_to(np.arange(2), (n, 2)),
        l1_rows=l1_rows,
    )


def hadronic_windows(
    cells: CaloCells, eta2: np.ndarray, phi2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Had image (N, 3, 3) of layer-1 cells on the cell containing (η₂, φ₂) (the window of
    ``window_grids``), and the Rhad1/Rhad
    numerators: Σ E over cells with centres within ±0.12 of (η₂, φ₂), layer 1 / all layers."""
    sums = []
    for layer in (HAD1, HAD2, HAD3):
        g = cells[layer].grid
        ec, pc = _centres(g)
        sel = (np.abs(ec - eta2[:, None]) <= RHAD_HALF_WINDOW)[:, :, None] & (
            np.abs(_wrap(pc - phi2[:, None])) <= RHAD_HALF_WINDOW
        )[:, None, :]
        sums.append(np.where(sel, cells[layer].energy, 0).sum(axis=(1, 2)))
    img = cells[HAD1].energy  # the 3 × 3 window of window_grids
    if img.shape[1:] != (HAD_WINDOW, HAD_WINDOW):
        raise ValueError(f"hadronic grid {img.shape[1:]}: expected the 3 × 3 window of window_grids")
    return img, sums[0].astype(F32), (sums[0] + sums[1] + sums[2]).astype(F32)
