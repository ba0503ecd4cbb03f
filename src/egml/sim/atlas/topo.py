"""Topo-clustering and superclustering of the T4 generation window (PHYSICS.md §5).

The cells live on per-candidate, detector-aligned layer grids (PS, L1, L2, L3), each an
(N, n_eta, n_phi) array with (N, n+1) monotonic edges. Everything is vectorised over the
candidates; the only Python loops run over layers, neighbour offsets and growth iterations.

Clusters are found by *label propagation*: every seed cell (|E|/σ > 4) carries the label
``-|E|/σ`` and the minimum label is spread by masked dilation over the growth cells
(|E|/σ > 2). A connected component therefore ends up labelled by its most significant
seed, which is exactly the set the sequential "grow from the best seed, then from the
remaining seeds in decreasing |E|/σ" prescription of §5 produces (4-2-0 clusters that
touch through a growth cell merge). The candidate's own seed gets the label ``-inf`` so
that its cluster wins every contested perimeter cell. Two different components whose most
significant seeds have bit-identical float32 |E|/σ would share a label; this only affects
the barycentre of non-candidate clusters and has probability ~0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED_THRESHOLD = 4.0  # |E|/σ of a seed cell, 4-2-0 topo clustering (§5)
GROW_THRESHOLD = 2.0  # |E|/σ of a growth cell (§5)
MAX_GROW_ITERATIONS = 30  # §5
SEED_MATCH_DR = 0.05  # the candidate's seed lies within ΔR < 0.05 of the impact (§5)
SC_DETA = 0.075  # supercluster window: 3 × 5 L2 cells around the seed cluster (§5)
SC_DPHI = 0.125
SC_DPHI_TRACK = 0.3  # e±: secondary clusters matched to the same track (§5)
TRACK_MATCH_DETA = 0.05  # track–cluster matching window (§3 Tracks)
TRACK_MATCH_DPHI = 0.1
_OVERLAP_TOL = 1e-5  # cells that only touch (float32 edges) do not overlap


@dataclass
class LayerGrid:
    """One calorimeter layer on the per-candidate window.

    ``significance`` is |E|/σ_c with σ_c = √(σ_el² + σ_pu²·μ/40) (§5), 0 where the cell does
    not exist. Edges are (N, n+1), increasing; φ edges must be unwrapped around the window
    axis by the caller.
    """

    energy: np.ndarray  # (N, n_eta, n_phi) float32, GeV
    significance: np.ndarray  # (N, n_eta, n_phi) float32
    exists: np.ndarray  # (N, n_eta, n_phi) bool
    eta_edges: np.ndarray  # (N, n_eta + 1)
    phi_edges: np.ndarray  # (N, n_phi + 1)

    @property
    def eta_centres(self) -> np.ndarray:
        return 0.5 * (self.eta_edges[:, 1:] + self.eta_edges[:, :-1])

    @property
    def phi_centres(self) -> np.ndarray:
        return 0.5 * (self.phi_edges[:, 1:] + self.phi_edges[:, :-1])


@dataclass
class _AxisMap:
    """For every destination cell along one axis, the contiguous range of overlapping source cells."""

    start: np.ndarray  # (N, n_dst) int
    count: np.ndarray  # (N, n_dst) int
    max_count: int


def _axis_map(src_edges: np.ndarray, dst_edges: np.ndarray) -> _AxisMap:
    lo = np.maximum(src_edges[:, None, :-1], dst_edges[:, :-1, None])
    hi = np.minimum(src_edges[:, None, 1:], dst_edges[:, 1:, None])
    overlap = (hi - lo) > _OVERLAP_TOL  # (N, n_dst, n_src), contiguous along n_src
    count = overlap.sum(axis=2)
    start = np.argmax(overlap, axis=2)
    return _AxisMap(start, count, int(count.max(initial=0)))


class CellGraph:
    """Neighbour structure of §5: 8 cells in the same layer plus overlapping cells of adjacent layers."""

    def __init__(self, layers: list[LayerGrid]) -> None:
        self.n_layers = len(layers)
        self.cross: dict[tuple[int, int], tuple[_AxisMap, _AxisMap]] = {}
        for a in range(self.n_layers - 1):
            for src, dst in ((a, a + 1), (a + 1, a)):
                self.cross[(src, dst)] = (
                    _axis_map(layers[src].eta_edges, layers[dst].eta_edges),
                    _axis_map(layers[src].phi_edges, layers[dst].phi_edges),
                )

    @staticmethod
    def _gather_min(values: np.ndarray, amap: _AxisMap, axis: int) -> np.ndarray:
        """min over the overlapping source cells along ``axis`` (1 = η, 2 = φ); +inf where none."""
        shape = list(values.shape)
        shape[axis] = amap.start.shape[1]
        out = np.full(shape, np.inf, dtype=values.dtype)
        n_src = values.shape[axis]
        for k in range(amap.max_count):
            idx = np.minimum(amap.start + k, n_src - 1)
            valid = k < amap.count
            if axis == 1:
                got = np.take_along_axis(values, idx[:, :, None], axis=1)
                got = np.where(valid[:, :, None], got, np.inf)
            else:
                got = np.take_along_axis(values, idx[:, None, :], axis=2)
                got = np.where(valid[:, None, :], got, np.inf)
            np.minimum(out, got, out=out)
        return out

    def neighbour_min(self, labels: list[np.ndarray]) -> list[np.ndarray]:
        """Per cell, the minimum label over itself and all its neighbours."""
        out = []
        for lab in labels:
            padded = np.pad(lab, ((0, 0), (1, 1), (1, 1)), constant_values=np.inf)
            ne, nphi = lab.shape[1:]
            acc = lab.copy()
            for di in range(3):
                for dj in range(3):
                    np.minimum(acc, padded[:, di : di + ne, dj : dj + nphi], out=acc)
            out.append(acc)
        for (src, dst), (eta_map, phi_map) in self.cross.items():
            via_eta = self._gather_min(labels[src], eta_map, axis=1)
            np.minimum(out[dst], self._gather_min(via_eta, phi_map, axis=2), out=out[dst])
        return out


def _wrap(dphi: np.ndarray) -> np.ndarray:
    return (dphi + np.pi) % (2 * np.pi) - np.pi


def topo_cluster_labels(
    layers: list[LayerGrid],
    impact_eta: np.ndarray,
    impact_phi: np.ndarray,
    graph: CellGraph | None = None,
    seed_threshold: float = SEED_THRESHOLD,
    grow_threshold: float = GROW_THRESHOLD,
    max_iterations: int = MAX_GROW_ITERATIONS,
) -> tuple[list[np.ndarray], np.ndarray]:
    """4-2-0 topo-clusters of every candidate's window (§5).

    Returns per-layer float32 labels (N, n_eta, n_phi): ``-inf`` for the candidate's cluster
    (grown from the most significant seed within ΔR < 0.05 of the impact), ``-max seed |E|/σ``
    for other clusters, ``+inf`` for unclustered cells; and a bool (N,) telling whether the
    candidate had a matched seed at all.
    """
    if not layers:
        raise ValueError("topo_cluster_labels: expected at least one layer, got none")
    graph = graph or CellGraph(layers)
    n = impact_eta.shape[0]
    best = np.zeros(n, dtype=np.float32)
    best_layer = np.full(n, -1)
    best_flat = np.zeros(n, dtype=np.int64)
    labels = []
    for i, lay in enumerate(layers):
        sig = np.where(lay.exists, lay.significance, 0.0).astype(np.float32)
        seed = sig > seed_threshold
        labels.append(np.where(seed, -sig, np.inf).astype(np.float32))
        deta = lay.eta_centres[:, :, None] - impact_eta[:, None, None]
        dphi = _wrap(lay.phi_centres[:, None, :] - impact_phi[:, None, None])
        matched = np.where(seed & (deta**2 + dphi**2 < SEED_MATCH_DR**2), sig, 0.0).reshape(n, -1)
        arg = np.argmax(matched, axis=1)
        val = matched[np.arange(n), arg]
        better = val > best
        best = np.where(better, val, best)
        best_layer = np.where(better, i, best_layer)
        best_flat = np.where(better, arg, best_flat)
    for i, lab in enumerate(labels):
        rows = np.nonzero(best_layer == i)[0]
        lab.reshape(n, -1)[rows, best_flat[rows]] = -np.inf

    grow = [lay.exists & (lay.significance > grow_threshold) for lay in layers]
    for _ in range(max_iterations):
        nb = graph.neighbour_min(labels)
        new = [np.where(g, np.minimum(lab, m), np.inf).astype(np.float32) for g, lab, m in zip(grow, labels, nb)]
        stable = all(np.array_equal(a, b) for a, b in zip(new, labels))
        labels = new
        if stable:
            break
    nb = graph.neighbour_min(labels)  # perimeter: all neighbours of grown cells, any E (threshold 0)
    labels = [
        np.where((lab == np.inf) & lay.exists, m, lab).astype(np.float32)
        for lab, m, lay in zip(labels, nb, layers)
    ]
    return labels, best_layer >= 0


def supercluster_mask(
    layers: list[LayerGrid],
    labels: list[np.ndarray],
    track_eta: np.ndarray | None = None,
    track_phi_range: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Cells of each candidate's supercluster (§5).

    The seed cluster (label ``-inf``) plus every other topo-cluster whose barycentre lies
    within |Δη| < 0.075 and |Δφ| < 0.125 of the seed cluster's; for candidates with a track
    (``track_eta`` finite) also clusters within |Δφ| < 0.3 that match the same track, i.e.
    whose barycentre lies within 0.05 in η of the track and inside its φ sweep
    ``track_phi_range`` (perigee → calorimeter, widened by 0.1). Barycentres weight cells by
    max(E, 0) over the EM layers. Returns the per-layer bool masks and the seed-cluster
    barycentre (η, φ), NaN where a candidate has no cluster.
    """
    n = labels[0].shape[0]
    cand, lab, e, eta, phi = [], [], [], [], []
    for lay, lb in zip(layers, labels):
        c, ie, ip = np.nonzero(lb < np.inf)
        cand.append(c)
        lab.append(lb[c, ie, ip])
        e.append(np.maximum(lay.energy[c, ie, ip], 0.0).astype(np.float64))
        eta.append(lay.eta_centres[c, ie])
        phi.append(lay.phi_centres[c, ip])
    cand_a, lab_a, e_a = np.concatenate(cand), np.concatenate(lab), np.concatenate(e)
    eta_a, phi_a = np.concatenate(eta), np.concatenate(phi)
    key = (cand_a.astype(np.int64) << 32) | lab_a.astype(np.float32).view(np.uint32).astype(np.int64)
    uniq, group = np.unique(key, return_inverse=True)
    group = group.reshape(-1)
    w = np.bincount(group, weights=e_a, minlength=uniq.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        g_eta = np.bincount(group, weights=e_a * eta_a, minlength=uniq.size) / w
        g_phi = np.bincount(group, weights=e_a * phi_a, minlength=uniq.size) / w
    g_cand = (uniq >> 32).astype(np.int64)
    g_seed = (uniq & 0xFFFFFFFF) == np.array([-np.inf], dtype=np.float32).view(np.uint32)[0]
    seed_eta = np.full(n, np.nan)
    seed_phi = np.full(n, np.nan)
    seed_eta[g_cand[g_seed]] = g_eta[g_seed]
    seed_phi[g_cand[g_seed]] = g_phi[g_seed]
    deta = np.abs(g_eta - seed_eta[g_cand])
    dphi = np.abs(_wrap(g_phi - seed_phi[g_cand]))
    keep = g_seed | ((deta < SC_DETA) & (dphi < SC_DPHI))
    if track_eta is not None and track_phi_range is not None:
        lo = np.minimum(*track_phi_range)[g_cand] - TRACK_MATCH_DPHI
        hi = np.maximum(*track_phi_range)[g_cand] + TRACK_MATCH_DPHI
        on_track = (np.abs(g_eta - track_eta[g_cand]) < TRACK_MATCH_DETA) & (g_phi > lo) & (g_phi < hi)
        keep |= on_track & (deta < SC_DETA) & (dphi < SC_DPHI_TRACK)
    cell_keep = keep[group]
    masks, offset = [], 0
    for lb, c in zip(labels, cand):
        m = np.zeros(lb.shape, dtype=bool)
        sel = cell_keep[offset : offset + c.size]
        _, ie, ip = np.nonzero(lb < np.inf)
        m[c[sel], ie[sel], ip[sel]] = True
        masks.append(m)
        offset += c.size
    return masks, seed_eta, seed_phi
