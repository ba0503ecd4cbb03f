"""ATLAS calorimeter simulation: EM and hadronic objects → measured cells (PHYSICS.md §1.4–§1.6).

``simulate_calorimeter`` takes padded EM and hadron objects, builds per-candidate detector-aligned
windows around an axis in every layer (PS, L1, L2, L3 and three hadronic layers), computes the
expected deposits λ_c with the GFlash longitudinal profile and the exact lateral cell integral
(erf integral for soft objects and hadronic deposits), and applies the §1.5 response.

Work is vectorised: random draws on the padded (N, K) shapes, cell integrals on the flat list of
real objects near each window, scatter-added onto flat candidate indices.

Two-stage windows (``place``): the layers given in ``grid`` are simulated and measured first; a
callback then places the windows of the remaining layers from those measured cells (T1: the L1,
L3, PS and hadronic windows around the reconstructed L2 maximum), so only cells that the
reconstruction can read are simulated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from egml.sim.atlas.deposits import em_layer_deposits, hadron_deposits, layer_expected
from egml.sim.atlas.geometry import (
    ALL_LAYERS,
    EM_LAYERS,
    HAD1,
    HAD2,
    HAD3,
    L1,
    L2,
    L3,
    N_PHI,
    PS,
    LayerGrid,
    impact_eta,
    make_grid,
)
from egml.sim.atlas.knobs import CaloKnobs
from egml.sim.atlas.objects import EMObjects, HadronObjects
from egml.sim.atlas.response import DetectorInstance, cell_response
from egml.sim.kernels import merge_window

F32 = np.float32


@dataclass(frozen=True)
class GridSpec:
    """Window size (n_η, n_φ) in native cells of each layer around the per-candidate axis.

    Defaults are the T1 image shapes (§1.2; PS 7 × 2, hadronic 3 × 3 layer-1 cells). Odd sizes
    centre on the cell containing the axis impact, even sizes take the cells nearest to it.
    """

    sizes: dict[int, tuple[int, int]] = field(
        default_factory=lambda: {
            PS: (7, 2),
            L1: (56, 2),
            L2: (7, 11),
            L3: (4, 11),
            HAD1: (3, 3),
            HAD2: (3, 3),
            HAD3: (3, 3),
        }
    )

    def __post_init__(self) -> None:
        if set(self.sizes) != set(ALL_LAYERS):
            raise ValueError(f"GridSpec: expected sizes for layers {ALL_LAYERS}, got {sorted(self.sizes)}")
        for layer, (ne, nph) in self.sizes.items():
            if ne < 1 or nph < 1:
                raise ValueError(f"GridSpec: layer {layer} window must be ≥ 1×1 cells, got {ne}×{nph}")

    @classmethod
    def from_half_widths(cls, half: dict[int, tuple[int, int]]) -> GridSpec:
        """Odd windows (2h_η+1) × (2h_φ+1) from half-widths per layer."""
        return cls({layer: (2 * he + 1, 2 * hp + 1) for layer, (he, hp) in half.items()})

    def grids(self, axis_eta: np.ndarray, axis_phi: np.ndarray, z_v: np.ndarray) -> dict[int, LayerGrid]:
        """Windows centred, in each layer, on the impact η_L of the axis direction (§0)."""
        return {
            layer: make_grid(layer, impact_eta(axis_eta, z_v, layer), axis_phi, ne, nph)
            for layer, (ne, nph) in self.sizes.items()
        }


@dataclass
class LayerCells:
    """Cells of one layer window; arrays (N, nη, nφ) float32 unless stated."""

    grid: LayerGrid  # eta_edges (N, nη+1), phi_edges (N, nφ+1), exists, global indices
    energy: np.ndarray  # measured, EM scale, GeV (noise may be negative; never clipped)
    expected: np.ndarray  # λ_c (PS: w_PS × deposit), GeV
    noise_sigma: np.ndarray  # √(σ_el² + σ_pu²·μ/40) after the noise shift; 0 for missing cells
    noise_el: np.ndarray | None  # σ_el·N₂ and σ_pu·√(μ/40)·N₃ parts (None unless split_noise)
    noise_pu: np.ndarray | None
    calibration: np.ndarray  # m_c
    sampling_a: np.ndarray  # sampling term a of the cell

    @property
    def exists(self) -> np.ndarray:
        return self.grid.exists

    @property
    def eta_edges(self) -> np.ndarray:
        return self.grid.eta_edges

    @property
    def phi_edges(self) -> np.ndarray:
        return self.grid.phi_edges


def keep_measured(old: LayerCells, new: LayerCells) -> LayerCells:
    """``new`` window of a layer in which the cells already measured in ``old`` (same detector
    cell: global η index and φ index modulo N_φ) keep their measured values and components."""
    n_phi = N_PHI[new.grid.layer]
    di = (new.grid.ieta0 - old.grid.ieta0).astype(np.int64)  # old row of new row 0
    dj = ((new.grid.iphi0 - old.grid.iphi0 + n_phi // 2) % n_phi - n_phi // 2).astype(np.int64)

    def merged(a_old: np.ndarray | None, a_new: np.ndarray | None) -> np.ndarray | None:
        if a_old is None or a_new is None:
            return None
        a_old = np.ascontiguousarray(np.broadcast_to(a_old, old.energy.shape), dtype=F32)
        return merge_window(a_old, np.ascontiguousarray(a_new, dtype=F32), di, dj)

    # σ_noise, m_c and a are functions of the detector cell (and of the candidate's μ) only, so the
    # new window already holds the old values on the shared cells: only the draws and λ are merged
    return LayerCells(
        new.grid, merged(old.energy, new.energy), merged(old.expected, new.expected),
        new.noise_sigma, merged(old.noise_el, new.noise_el), merged(old.noise_pu, new.noise_pu),
        new.calibration, new.sampling_a,
    )  # fmt: skip


@dataclass
class CaloCells:
    """Output of ``simulate_calorimeter``.

    layers: {PS, L1, L2, L3, HAD1, HAD2, HAD3: LayerCells}. Per-candidate latents (N,) GeV:
    E_up (true upstream loss, §1.5: Σ E·P(X_up) − E_PS,dep), E_PS_dep (true PS deposit),
    E_PS_L1_dead (deposit between the PS and L1, §5 g), E_leak_long (EM energy behind the
    accordion or in non-existent cells' depth), E_leak_lat (expected EM-layer energy outside the
    windows), E_em_true (Σ EM object energies incl. hadron sub-showers), E_had_dep (EM-scale
    hadronic deposit, all layers, before windowing).
    """

    layers: dict[int, LayerCells]
    E_up: np.ndarray
    E_PS_dep: np.ndarray
    E_PS_L1_dead: np.ndarray
    E_leak_long: np.ndarray
    E_leak_lat: np.ndarray
    E_em_true: np.ndarray
    E_had_dep: np.ndarray

    def __getitem__(self, layer: int) -> LayerCells:
        return self.layers[layer]


def simulate_calorimeter(
    em: EMObjects,
    had: HadronObjects | None,
    axis_eta: np.ndarray,
    axis_phi: np.ndarray,
    z_v: np.ndarray,
    mu: np.ndarray,
    rng: np.random.Generator,
    detector: DetectorInstance,
    grid: GridSpec | dict[int, LayerGrid] | None = None,
    knobs: CaloKnobs | None = None,
    place: Callable[[dict[int, LayerCells]], dict[int, LayerGrid]] | None = None,
    split_noise: bool = True,
) -> CaloCells:
    """Simulate the measured cells of every layer window for N candidates (§1.4, §1.5, §1.6).

    em: EM objects (N, K_em); had: hadrons (N, K_had) or None; axis_eta/axis_phi (N,): window axis
    (direction from the vertex); z_v (N,) mm; mu (N,) pileup (the caller adds any μ shift);
    grid: a GridSpec (windows around the axis impact per layer) or ready LayerGrids for all 7
    layers, or, with ``place``, for the first-stage layers only; place: called after each stage
    with the cells measured so far, returns the LayerGrids of the next stage (empty: done). A
    layer may come back in a later stage with another window: cells measured before keep their
    values (``keep_measured``), only the new ones are simulated. split_noise: keep the electronic and
    pileup noise as separate draws (needed for the T4 latents); otherwise one normal of width
    √(σ_el² + σ_pu²μ/40) per cell, the same distribution with one draw fewer.
    Draws are fixed-shape given (N, K_em, K_had) and the window sizes.
    """
    knobs = knobs or CaloKnobs()
    n = em.E.shape[0]
    axis_eta = np.asarray(axis_eta, dtype=F32)
    axis_phi = np.asarray(axis_phi, dtype=F32)
    z_v = np.asarray(z_v, dtype=F32)
    mu = np.asarray(mu, dtype=F32)
    for name, arr in (("axis_eta", axis_eta), ("axis_phi", axis_phi), ("z_v", z_v), ("mu", mu)):
        if arr.shape != (n,):
            raise ValueError(
                f"simulate_calorimeter: {name} must have shape ({n},) like em.E rows, got {arr.shape}"
            )
    had = had if had is not None else HadronObjects.empty(n)
    if had.E.shape[0] != n:
        raise ValueError(f"simulate_calorimeter: had has {had.E.shape[0]} rows, expected {n}")
    if grid is None or isinstance(grid, GridSpec):
        grids = (grid or GridSpec()).grids(axis_eta, axis_phi, z_v)
    else:
        grids = dict(grid)
        if place is None and set(grids) != set(ALL_LAYERS):
            raise ValueError(
                f"simulate_calorimeter: expected LayerGrids for layers {ALL_LAYERS}, got {sorted(grids)}"
            )

    # hadrons first: their EM sub-showers join the EM objects (fixed K = K_em + K_had)
    hd = hadron_deposits(had, z_v, rng, knobs)
    em_all = EMObjects.concat(em, hd.em_subshowers)
    ed = em_layer_deposits(em_all, z_v, rng, knobs)

    layers: dict[int, LayerCells] = {}

    def measure(stage: dict[int, LayerGrid]) -> None:
        for layer in sorted(stage):
            g = stage[layer]
            lam = layer_expected(g, ed.sources[layer] + hd.sources[layer], n)
            if layer == PS:
                lam *= F32(knobs.w_PS)
            resp = cell_response(lam, g, mu, rng, detector, knobs.noise_scale, knobs.a_PS, split_noise)
            new = LayerCells(
                g, resp.energy, lam, resp.noise_sigma, resp.noise_el, resp.noise_pu, resp.calibration,
                resp.sampling_a,
            )  # fmt: skip
            layers[layer] = keep_measured(layers[layer], new) if layer in layers else new

    measure(grids)
    while place is not None and (stage := place(dict(layers))):
        measure(stage)
    if set(layers) != set(ALL_LAYERS):
        raise ValueError(
            f"simulate_calorimeter: layers {sorted(layers)} were simulated, expected {ALL_LAYERS}"
        )

    in_window = sum(
        (np.where(layers[la].exists, layers[la].expected, 0).sum(axis=(1, 2)) for la in (L1, L2, L3)),
        start=np.zeros(n, F32),
    )
    E_leak_lat = (ed.layer_total[L1] + ed.layer_total[L2] + ed.layer_total[L3] - in_window).astype(F32)
    return CaloCells(
        layers=dict(sorted(layers.items())),
        E_up=ed.E_up,
        E_PS_dep=ed.E_PS_dep,
        E_PS_L1_dead=ed.E_PS_L1_dead,
        E_leak_long=ed.E_leak_long,
        E_leak_lat=np.maximum(E_leak_lat, 0).astype(F32),
        E_em_true=np.where(em_all.mask, em_all.E, 0).sum(axis=1).astype(F32),
        E_had_dep=hd.E_dep_total,
    )


__all__ = [
    "EM_LAYERS",
    "HAD1",
    "HAD2",
    "HAD3",
    "L1",
    "L2",
    "L3",
    "PS",
    "CaloCells",
    "CaloKnobs",
    "DetectorInstance",
    "EMObjects",
    "GridSpec",
    "HadronObjects",
    "LayerCells",
    "simulate_calorimeter",
]
