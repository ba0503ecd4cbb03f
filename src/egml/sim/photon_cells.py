"""Per-cell vectors of T1 candidates (PHYSICS.md §7: ncells, cells_e, cells_eta, …).

The cells are the native cells of the image windows (PS 7×2, L1 native strips spanning the
7 L2 cells × 2 φ cells, L2 7×11, L3 4×11) with |E| > 2σ_noise: one symmetric noise threshold
for every class, so negative (noise) cells are kept as well (§0 rule 3; never clipped).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from egml.sim.atlas.calorimeter import CaloCells
from egml.sim.atlas.geometry import ETA_EDGES, L1, L2, L3, PS, transverse_radius
from egml.sim.kernels import kept_cells, scatter_cells
from egml.sim.photon_windows import PhotonWindows

F32 = np.float32
CELL_NSIGMA = 2.0  # |E| > 2σ_noise keeps a cell [K]


def _jagged(flat: np.ndarray, offsets: np.ndarray) -> ak.Array:
    """Jagged array from flat values and list offsets (what ak.unflatten builds, without its checks)."""
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), ak.contents.NumpyArray(flat)))


def _row_tables(layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell-centre η, r⊥ and z (mm) of every η row of the global cell table of ``layer`` (float32)."""
    if layer not in _TABLES:
        edges = ETA_EDGES[layer].astype(F32)
        eta_c = (F32(0.5) * (edges[1:] + edges[:-1])).astype(F32)
        r = transverse_radius(layer, eta_c)
        _TABLES[layer] = (eta_c, r, (r * np.sinh(eta_c)).astype(F32))
    return _TABLES[layer]


_TABLES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def cell_vectors(cells: CaloCells, win: PhotonWindows) -> dict[str, ak.Array]:
    """Jagged per-candidate cell lists (GeV, η, φ, mm, layer) of the image windows.

    Row positions (η, r⊥, z) come from per-layer tables of the global η cells, φ from the window;
    each layer's kept cells are written straight to their place in the candidate-grouped output
    (layers in order inside a candidate, cells in (η, φ) order) by ``kernels.scatter_cells``.
    """
    n = len(win.eta_max)
    phi_max = win.phi_max[:, None]
    keeps: list[tuple[int, np.ndarray, np.ndarray]] = []
    counts = np.zeros(n, np.int64)
    for layer in (PS, L1, L2, L3):
        lc = cells[layer]
        g = lc.grid
        phi_c = ((0.5 * (g.phi_edges[:, 1:] + g.phi_edges[:, :-1]) + np.pi) % (2 * np.pi) - np.pi).astype(F32)
        ne, nph = g.shape
        if layer == L1:  # the placed strip-φ columns; native strips inside the image η range
            rows, cols = win.l1_rows, np.ones((n, nph), bool)
        elif layer in (PS, L3):  # the whole placed windows: PS 7 × 2, L3 4 back cells × 11
            rows, cols = np.ones((n, ne), bool), np.ones((n, nph), bool)
        else:
            eta_c = (0.5 * (g.eta_edges[:, 1:] + g.eta_edges[:, :-1])).astype(F32)
            dphi = (phi_c - phi_max + np.pi) % (2 * np.pi) - np.pi
            rows = np.abs(eta_c - win.eta_max[:, None]) < 3.5 * 0.025
            cols = np.abs(dphi) < 5.5 * 2 * np.pi / 256
        # (rows ⊗ cols) & exists & |E| > 2σ_noise, and the kept cells per candidate, in one pass
        keep = kept_cells(rows, cols, g.exists, lc.energy, lc.noise_sigma, CELL_NSIGMA, counts)
        keeps.append((layer, keep, phi_c))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out_f = np.empty((7, int(offsets[-1])), F32)
    out_layer = np.empty(int(offsets[-1]), np.int32)
    pos = offsets[:-1].copy()
    for layer, keep, phi_c in keeps:
        lc = cells[layer]
        e, sigma = (np.ascontiguousarray(a, dtype=F32) for a in (lc.energy, lc.noise_sigma))
        ieta0 = np.ascontiguousarray(lc.grid.ieta0, dtype=np.int64)
        cos_c, sin_c = np.cos(phi_c), np.sin(phi_c)
        scatter_cells(
            keep, e, sigma, ieta0, phi_c, cos_c, sin_c, *_row_tables(layer), layer, pos, out_f, out_layer
        )
    out = {
        f"cells_{name}": _jagged(out_f[i], offsets)
        for i, name in enumerate(("e", "eta", "phi", "x", "y", "z", "sigma"))
    }
    out["cells_layer"] = _jagged(out_layer, offsets)
    out["ncells"] = counts.astype(np.int32)
    return out
