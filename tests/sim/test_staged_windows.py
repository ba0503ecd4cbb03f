"""Staged calorimeter windows (``simulate_calorimeter(place=...)``) and the T1 placement.

A layer may be simulated again with another window after other cells were measured: the cells
measured before keep their values, the rest are simulated; every layer must end up simulated.
"""

from __future__ import annotations

import numpy as np
import pytest

from egml.sim.atlas import geometry as geo
from egml.sim.atlas.calorimeter import simulate_calorimeter
from egml.sim.atlas.objects import EMObjects
from egml.sim.atlas.response import DetectorInstance
from egml.sim.base import GenConfig
from egml.sim.photon import SinglePhotonGenerator
from egml.sim.photon_windows import L1_WINDOW_STRIPS

F32 = np.float32
DET = DetectorInstance.from_seed(7)


def _photons(n: int, seed: int) -> tuple[EMObjects, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    eta = rng.uniform(-1.2, 1.2, n).astype(F32)
    phi = rng.uniform(-np.pi, np.pi, n).astype(F32)
    E = np.full((n, 1), 50.0, F32)
    return EMObjects(E, eta[:, None], phi[:, None], np.full((n, 1), 3.0, F32), E > 0), eta, phi


def _others(eta: np.ndarray, phi: np.ndarray) -> dict[int, geo.LayerGrid]:
    sizes = {
        geo.PS: (7, 2),
        geo.L1: (56, 2),
        geo.L3: (4, 11),
        geo.HAD1: (3, 3),
        geo.HAD2: (3, 3),
        geo.HAD3: (3, 3),
    }
    return {la: geo.make_grid(la, eta, phi, *s) for la, s in sizes.items()}


def test_restaged_layer_keeps_measured_cells() -> None:
    n = 400
    em, eta, phi = _photons(n, 1)
    zv, mu = np.zeros(n, F32), np.full(n, 35.0, F32)
    first = geo.make_grid(geo.L2, eta, phi, 7, 7)
    seen: dict[str, object] = {}

    def place(measured):
        if "l2" in seen:
            return {}
        seen["l2"] = measured[geo.L2]
        # the second L2 window is shifted by 2 cells in η and 3 in φ: 5 × 4 cells overlap
        shifted = geo.make_grid(geo.L2, eta + F32(0.05), phi + F32(3 * 2 * np.pi / 256), 7, 11)
        return {geo.L2: shifted, **_others(eta, phi)}

    cells = simulate_calorimeter(
        em, None, eta, phi, zv, mu, np.random.default_rng(2), DET, {geo.L2: first}, place=place
    )
    old, new = seen["l2"], cells[geo.L2]
    assert new.grid.shape == (7, 11)
    n_phi = geo.N_PHI[geo.L2]
    di = (old.grid.ieta0 - new.grid.ieta0)[:, None]  # old cell (i, j) is new cell (i + di, j + dj)
    dj = ((old.grid.iphi0 - new.grid.iphi0 + n_phi // 2) % n_phi - n_phi // 2)[:, None]
    i, j = np.meshgrid(np.arange(7), np.arange(7), indexing="ij")
    ii, jj = i.ravel() + di, j.ravel() + dj  # (N, 49)
    ok = (ii >= 0) & (ii < 7) & (jj >= 0) & (jj < 11)
    c, k = np.nonzero(ok)
    assert len(c) >= 0.9 * 30 * n  # 5 × 6 cells overlap: the shared cells were exercised
    for name in ("energy", "expected", "noise_sigma", "calibration"):
        a_new = getattr(new, name)[c, ii[c, k], jj[c, k]]
        np.testing.assert_array_equal(a_new, getattr(old, name).reshape(n, -1)[c, k])
    # cells new to the second window are simulated: most of the shower's energy is in it
    assert np.median(new.expected.sum(axis=(1, 2))) > 0.5 * 50


def test_place_must_complete_the_layers() -> None:
    n = 8
    em, eta, phi = _photons(n, 3)
    grid = {geo.L2: geo.make_grid(geo.L2, eta, phi, 7, 7)}
    with pytest.raises(ValueError, match="layers"):
        simulate_calorimeter(
            em, None, eta, phi, np.zeros(n, F32), np.full(n, 35.0, F32), np.random.default_rng(0), DET,
            grid, place=lambda measured: {},
        )  # fmt: skip


def test_photon_windows_follow_the_l2_maximum() -> None:
    """The L2 image is centred on the hottest search cell; in the barrel the 56-strip L1 image is
    made of the native strips of the placed L1 window (no resampling)."""
    gen = SinglePhotonGenerator(GenConfig(knobs={"pt_min": 20.0, "pt_max": 80.0, "eta_max": 1.3}))
    cols = gen.generate_block(np.random.default_rng(5), 600)
    l2 = cols["y_img_L2"].reshape(len(cols["y_pt"]), -1)  # (N, 11 φ × 7 η), centre at (5, 3)
    assert np.mean(np.argmax(l2, axis=1) == 5 * 7 + 3) > 0.95
    assert cols["y_img_L1"].shape[1:] == (2, 56) and L1_WINDOW_STRIPS >= 56
    barrel = np.abs(cols["y_eta_cl_s2"]) < 1.3
    assert barrel.sum() > 200
    for i in np.flatnonzero(barrel)[:50]:
        e, layer = np.asarray(cols["cells_e"][i]), np.asarray(cols["cells_layer"][i])
        assert np.isin(e[layer == 1], cols["y_img_L1"][i]).all()
