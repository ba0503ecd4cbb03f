"""Topo-clustering and superclustering on hand-made and random cell grids (PHYSICS.md §5)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from egml.sim.atlas.topo import CellGraph, TopoLayer, supercluster_mask, topo_cluster_labels


def _grid(sig: np.ndarray, d_eta: float, d_phi: float, exists: np.ndarray | None = None) -> TopoLayer:
    n, ne, nphi = sig.shape
    eta = np.broadcast_to((np.arange(ne + 1) - ne / 2) * d_eta, (n, ne + 1)).astype(np.float32)
    phi = np.broadcast_to((np.arange(nphi + 1) - nphi / 2) * d_phi, (n, nphi + 1)).astype(np.float32)
    ex = np.ones(sig.shape, bool) if exists is None else exists
    return TopoLayer(sig.astype(np.float32), sig.astype(np.float32), ex, eta.copy(), phi.copy())


def test_single_layer_matches_connected_components() -> None:
    """Grown cells = 8-connected components of |E|/σ > 2 cells that contain a 4σ seed."""
    rng = np.random.default_rng(1)
    sig = np.abs(rng.normal(0, 1.4, size=(40, 15, 15))).astype(np.float32)
    lay = _grid(sig, 0.025, 0.025)
    labels, _ = topo_cluster_labels([lay], np.zeros(40), np.zeros(40), grow_threshold=2.0, max_iterations=200)
    # remove the perimeter to compare the grown core
    for k in range(40):
        comp, _ = ndimage.label(sig[k] > 2, structure=np.ones((3, 3)))
        seeded = np.unique(comp[(sig[k] > 4) & (comp > 0)])
        core = np.isin(comp, seeded) & (comp > 0)
        lab = labels[0][k]
        grown = (lab < np.inf) & (sig[k] > 2)
        np.testing.assert_array_equal(grown, core)
        for c in seeded:  # one label per component, = −(max seed significance)
            vals = np.unique(lab[comp == c])
            assert vals.size == 1
            assert vals[0] == -np.inf or np.isclose(vals[0], -sig[k][comp == c].max())
        # perimeter = dilation of the core, minus the core
        perim = ndimage.binary_dilation(core, structure=np.ones((3, 3))) & ~core
        np.testing.assert_array_equal((lab < np.inf) & ~core, perim)


def test_candidate_cluster_and_supercluster_window() -> None:
    sig = np.zeros((3, 25, 41), np.float32)
    sig[:, 12, 20] = 30.0  # candidate seed at the impact
    sig[:, 12, 21] = 3.0
    sig[0, 12, 24] = 10.0  # 4 cells away in φ (0.098 < 0.125): merged into the supercluster
    sig[1, 12, 27] = 10.0  # 7 cells away (0.17): separate topo-cluster, not merged
    sig[2, 12, 22] = 2.5  # bridge ...
    sig[2, 12, 23] = 10.0  # ... so this seed joins the candidate's topo-cluster
    lay = _grid(sig, 0.025, 0.0245)
    labels, ok = topo_cluster_labels([lay], np.zeros(3), np.zeros(3))
    assert ok.all()
    lab = labels[0]
    assert (lab[:, 12, 20] == -np.inf).all()
    assert lab[0, 12, 24] == -10.0 and lab[1, 12, 27] == -10.0
    assert lab[2, 12, 23] == -np.inf
    masks, seta, _sphi = supercluster_mask([lay], labels)
    assert masks[0][0, 12, 24] and not masks[0][1, 12, 27] and masks[0][2, 12, 23]
    assert np.all(np.abs(seta) < 0.0125)


def test_no_seed_near_impact_and_missing_cells() -> None:
    sig = np.zeros((2, 25, 25), np.float32)
    sig[:, 12, 12] = 8.0
    exists = np.ones(sig.shape, bool)
    exists[1, 12, 13] = False  # a non-existent cell is never clustered, even as perimeter
    lay = _grid(sig, 0.025, 0.025, exists)
    impact_eta = np.array([0.0, 0.0])
    impact_phi = np.array([0.2, 0.0])  # candidate 0: seed is 0.2 away, outside ΔR < 0.05
    labels, ok = topo_cluster_labels([lay], impact_eta, impact_phi)
    assert list(ok) == [False, True]
    assert labels[0][0, 12, 12] == -8.0  # still a topo-cluster, just not the candidate's
    assert labels[0][1, 12, 13] == np.inf and labels[0][1, 12, 11] == -np.inf


def test_cross_layer_neighbours_follow_overlap() -> None:
    """A strip seed makes the L2 cells it overlaps neighbours, and only those."""
    n = 1
    strips = np.zeros((n, 40, 3), np.float32)
    strips[0, 20, 1] = 10.0  # strip η ∈ [0, 0.003125], φ ∈ [-0.049, 0.049]
    l1 = _grid(strips, 0.003125, 0.098)
    l2sig = np.zeros((n, 5, 9), np.float32)
    l2 = _grid(l2sig, 0.025, 0.0245)
    l2.eta_edges = l2.eta_edges + np.float32(0.0125)  # L2 η cells [-0.05,-0.025, 0, 0.025, ...] + 0.0125
    labels, ok = topo_cluster_labels([l1, l2], np.zeros(n), np.zeros(n))
    assert ok.all()
    got = labels[1][0] < np.inf
    eta_c = l2.eta_centres[0]
    phi_c = l2.phi_centres[0]
    expect = ((eta_c > 0) & (eta_c < 0.025))[:, None] & (
        np.abs(phi_c)[None, :] < 0.049 + 0.0245 / 2
    )  # touching cells excluded
    np.testing.assert_array_equal(got, expect)
    graph = CellGraph([l1, l2])
    assert graph.cross[(1, 0)][0].max_count == 8  # one L2 η cell overlaps 8 strips


def test_electron_track_matched_cluster_joins_within_wider_phi() -> None:
    """e±: a cluster 0.2 away in φ joins only if it lies on the track's φ sweep (§5 supercluster)."""
    sig = np.zeros((2, 25, 41), np.float32)
    sig[:, 12, 20] = 30.0
    sig[:, 12, 28] = 10.0  # Δφ = 8 cells = 0.196: outside 0.125, inside 0.3
    lay = _grid(sig, 0.025, 0.0245)
    labels, _ = topo_cluster_labels([lay], np.zeros(2), np.zeros(2))
    track_eta = np.zeros(2, np.float32)
    lo = np.zeros(2, np.float32)
    hi = np.array([0.2, -0.2], np.float32)  # candidate 0 sweeps towards the secondary cluster
    masks, _, _ = supercluster_mask([lay], labels, track_eta, (lo, hi))
    assert masks[0][0, 12, 28] and not masks[0][1, 12, 28]
    masks_no_track, _, _ = supercluster_mask([lay], labels)
    assert not masks_no_track[0][:, 12, 28].any()
