"""Per-cell vectors of T1 candidates (PHYSICS.md §7: ncells, cells_e, cells_eta, …).

The cells are the native cells of the image windows (PS 7×2, L1 native strips spanning the
7 L2 cells × 2 φ cells, L2 7×11, L3 4×11) with |E| > 2σ_noise: one symmetric noise threshold
for every class, so negative (noise) cells are kept as well (§0 rule 3; never clipped).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from egml.sim.atlas.calorimeter import CaloCells
from egml.sim.atlas.geometry import L1, L2, L3, PS, transverse_radius
from egml.sim.photon_windows import PhotonWindows

F32 = np.float32
CELL_NSIGMA = 2.0  # |E| > 2σ_noise keeps a cell [K]


def _jagged(flat: np.ndarray, offsets: np.ndarray) -> ak.Array:
    """Jagged array from flat values and list offsets (what ak.unflatten builds, without its checks)."""
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), ak.contents.NumpyArray(flat)))


def cell_vectors(cells: CaloCells, win: PhotonWindows) -> dict[str, ak.Array]:
    """Jagged per-candidate cell lists (GeV, η, φ, mm, layer) of the image windows.

    Positions are computed per window row (r⊥, z) and column (cos φ, sin φ) and gathered for the
    kept cells; the cells are grouped by candidate with the layers in order inside.
    """
    n = len(win.eta_max)
    phi_max = win.phi_max[:, None]
    parts: list[tuple[np.ndarray, ...]] = []
    for layer in (PS, L1, L2, L3):
        lc = cells[layer]
        g = lc.grid
        ne, nph = g.shape
        eta_c = (0.5 * (g.eta_edges[:, 1:] + g.eta_edges[:, :-1])).astype(F32)
        phi_c = ((0.5 * (g.phi_edges[:, 1:] + g.phi_edges[:, :-1]) + np.pi) % (2 * np.pi) - np.pi).astype(F32)
        if layer == L1:  # the placed strip-φ columns; native strips inside the image η range
            keep = np.broadcast_to(win.l1_rows[:, :, None], (n, ne, nph)) & g.exists
        elif layer in (PS, L3):  # the whole placed windows: PS 7 × 2, L3 4 back cells × 11
            keep = g.exists.copy()
        else:
            dphi = (phi_c - phi_max + np.pi) % (2 * np.pi) - np.pi
            rows = np.abs(eta_c - win.eta_max[:, None]) < 3.5 * 0.025
            keep = rows[:, :, None] & (np.abs(dphi) < 5.5 * 2 * np.pi / 256)[:, None, :] & g.exists
        keep &= np.abs(lc.energy) > CELL_NSIGMA * lc.noise_sigma
        flat = np.flatnonzero(keep)
        cand, rem = np.divmod(flat, ne * nph)
        ie, ip = np.divmod(rem, nph)
        row, col = cand * ne + ie, cand * nph + ip
        r = transverse_radius(layer, eta_c)
        z = r * np.sinh(eta_c)
        parts.append(
            (
                cand,
                lc.energy.ravel()[flat],
                eta_c.ravel()[row],
                phi_c.ravel()[col],
                r.ravel()[row] * np.cos(phi_c).ravel()[col],
                r.ravel()[row] * np.sin(phi_c).ravel()[col],
                z.ravel()[row],
                lc.noise_sigma.ravel()[flat],
                np.full(len(flat), layer, np.int32),
            )
        )
    cand = np.concatenate([p[0] for p in parts])
    order = np.argsort(cand, kind="stable")  # group by candidate, layers in order inside
    counts = np.bincount(cand, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    names = ("e", "eta", "phi", "x", "y", "z", "sigma", "layer")
    out = {}
    for i, name in enumerate(names, start=1):
        flat = np.concatenate([p[i] for p in parts])[order]
        out[f"cells_{name}"] = _jagged(flat.astype(np.int32 if name == "layer" else F32), offsets)
    out["ncells"] = counts.astype(np.int32)
    return out
