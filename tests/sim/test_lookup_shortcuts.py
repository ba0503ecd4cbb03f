"""Shortcuts of the T1 hot path against the plain NumPy/SciPy expressions they replace."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaincc

from egml.sim import jets
from egml.sim.atlas import geometry as geo
from egml.sim.atlas.deposits import _exists_at
from egml.sim.photon_isolation import MAX_TRACKS, _poisson_slots


def test_exists_at_matches_the_full_cell_table() -> None:
    rng = np.random.default_rng(0)
    for layer in geo.ALL_LAYERS:
        edges, exists = geo.ETA_EDGES[layer], geo.CELL_EXISTS[layer]
        x = np.concatenate(
            [rng.uniform(-3.5, 3.5, 20000), edges, np.nextafter(edges, -9), np.nextafter(edges, 9)]
        ).astype(np.float32)
        i = np.clip(np.searchsorted(edges, x.astype(np.float64), side="right") - 1, 0, len(exists) - 1)
        np.testing.assert_array_equal(_exists_at(layer, x), exists[i])


def test_poisson_slots_match_the_full_cdf() -> None:
    rng = np.random.default_rng(1)
    u, lam = rng.random(5000), rng.uniform(0, 12, 5000)
    cdf = gammaincc(np.arange(MAX_TRACKS + 1)[None, :] + 1, lam[:, None])
    np.testing.assert_array_equal(_poisson_slots(u, lam), (u[:, None] > cdf).sum(1))


def test_jet_remainder_padding_is_zero_and_species_follow_the_cdf() -> None:
    n = 300
    rng = np.random.default_rng(2)
    args = (rng.uniform(20, 200, n), rng.uniform(-2, 2, n), rng.uniform(0.3, 0.9, n), rng.random(n) < 0.6)
    rem = jets.jet_remainder(np.random.default_rng(3), *args)
    for name in ("pt", "E", "deta", "dphi", "dphi_calo"):
        assert np.all(getattr(rem, name)[~rem.mask] == 0), name
    assert np.any(rem.deta[rem.mask] != 0)
    draws = np.random.default_rng(3)  # replay the draws: the species uniforms come after u_mult and gam
    draws.random(n)
    draws.standard_gamma(jets.DIRICHLET_ALPHA, (n, jets.MAX_FRAGMENTS))
    u_species = draws.random((n, jets.MAX_FRAGMENTS))
    want = np.minimum(np.searchsorted(np.cumsum(jets.SPECIES_PROBS), u_species, side="right"), 2)
    np.testing.assert_array_equal(rem.species, want)
