"""Per-cell vectors of T1 candidates (PHYSICS.md §7: ncells, cells_e, cells_eta, …).

The cells are the native cells of the image windows (PS 7×2, L1 native strips spanning the
7 L2 cells × 2 φ cells, L2 7×11, L3 4×11) with |E| > 2σ_noise: one symmetric noise threshold
for every class, so negative (noise) cells are kept as well (§0 rule 3; never clipped).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from egml.sim.atlas.calorimeter import CaloCells
from egml.sim.atlas.geometry import L1, L2, L3, PS, cell_xyz
from egml.sim.photon_windows import PhotonWindows

F32 = np.float32
CELL_NSIGMA = 2.0  # |E| > 2σ_noise keeps a cell [K]


def cell_vectors(cells: CaloCells, win: PhotonWindows) -> dict[str, ak.Array]:
    """Jagged per-candidate cell lists (GeV, η, φ, mm, layer) of the image windows."""
    parts = []
    phi_max = win.phi_max[:, None]
    for layer in (PS, L1, L2, L3):
        lc = cells[layer]
        g = lc.grid
        eta_c = 0.5 * (g.eta_edges[:, 1:] + g.eta_edges[:, :-1])
        phi_c = 0.5 * (g.phi_edges[:, 1:] + g.phi_edges[:, :-1])
        dphi = (phi_c - phi_max + np.pi) % (2 * np.pi) - np.pi
        de = np.abs(eta_c - win.eta_max[:, None])
        if layer == L1:
            rows = win.l1_rows
            cols = np.zeros(dphi.shape, bool)
            np.put_along_axis(cols, win.l1_cols, True, axis=1)
        elif layer == PS:
            rows = de < 3.5 * 0.025
            cols = np.zeros(dphi.shape, bool)
            np.put_along_axis(cols, np.sort(np.argsort(np.abs(dphi), axis=1)[:, :2], axis=1), True, axis=1)
        elif layer == L2:
            rows, cols = de < 3.5 * 0.025, np.abs(dphi) < 5.5 * 2 * np.pi / 256
        else:  # the 4 back cells nearest η_max
            rank = np.argsort(np.argsort(de, axis=1), axis=1)
            rows, cols = rank < 4, np.abs(dphi) < 5.5 * 2 * np.pi / 256
        keep = rows[:, :, None] & cols[:, None, :] & g.exists
        keep &= np.abs(lc.energy) > CELL_NSIGMA * lc.noise_sigma
        cand, ie, ip = np.nonzero(keep)
        eta = eta_c[cand, ie].astype(F32)
        phi = ((phi_c[cand, ip] + np.pi) % (2 * np.pi) - np.pi).astype(F32)
        x, y, z = cell_xyz(layer, eta, phi)
        parts.append(
            (
                cand,
                lc.energy[cand, ie, ip],
                eta,
                phi,
                x,
                y,
                z,
                lc.noise_sigma[cand, ie, ip],
                np.full(len(cand), layer),
            )
        )
    cand = np.concatenate([p[0] for p in parts])
    order = np.argsort(cand, kind="stable")  # group by candidate, layers in order inside
    counts = np.bincount(cand, minlength=len(win.eta_max))
    names = ("e", "eta", "phi", "x", "y", "z", "sigma", "layer")
    out = {}
    for i, name in enumerate(names, start=1):
        flat = np.concatenate([p[i] for p in parts])[order]
        flat = flat.astype(np.int32) if name == "layer" else flat.astype(F32)
        out[f"cells_{name}"] = ak.unflatten(flat, counts)
    out["ncells"] = counts.astype(np.int32)
    return out
