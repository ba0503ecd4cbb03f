"""ATLAS LAr EM (+ Tile/HEC) calorimeter geometry: layers, granularity, depths, windows.

PHYSICS.md §1.2 (granularities [S:D]; endcap strip pitch, radii and depths [K]) and the impact
point of §0. Every layer has a global, detector-aligned table of η cell edges over
|η| < ETA_TABLE_MAX (variable pitch, e.g. the endcap strips) and a uniform φ pitch; windows
(``make_grid``) are slices of those tables, so cell edges are the detector's, never snapped to
the particle. Cells in gaps of the coverage carry a nominal pitch and ``exists = False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F32 = np.float32

# --- layer indices -----------------------------------------------------------------------------
PS, L1, L2, L3 = 0, 1, 2, 3  # EM layers (§1.2)
HAD1, HAD2, HAD3 = 4, 5, 6  # Tile A/BC/D (barrel) or HEC 0/1/2 (endcap), §1.5
EM_LAYERS = (PS, L1, L2, L3)
HAD_LAYERS = (HAD1, HAD2, HAD3)
ALL_LAYERS = EM_LAYERS + HAD_LAYERS
LAYER_NAMES = {PS: "PS", L1: "L1", L2: "L2", L3: "L3", HAD1: "HAD1", HAD2: "HAD2", HAD3: "HAD3"}

ETA_TABLE_MAX = 3.2  # cells beyond the EM coverage (2.5) exist in the tables with exists=False
BARREL_EDGE = 1.475  # |η| below which a particle hits the barrel EM layers (§1.2)

# --- granularity (§1.2 table [S:D]; endcap strips [K]); hadronic layers 0.1 × 2π/64 (§1.5) ------
DPHI = {
    PS: 2 * np.pi / 64,
    L1: 2 * np.pi / 64,
    L2: 2 * np.pi / 256,
    L3: 2 * np.pi / 256,
    HAD1: 2 * np.pi / 64,
    HAD2: 2 * np.pi / 64,
    HAD3: 2 * np.pi / 64,
}
# (|η| lower edge, upper edge, pitch, exists) segments covering [0, ETA_TABLE_MAX)
_SEGMENTS: dict[int, list[tuple[float, float, float, bool]]] = {
    PS: [(0.0, 1.8, 0.025, True), (1.8, ETA_TABLE_MAX, 0.025, False)],
    L1: [
        (0.0, 1.4, 0.025 / 8, True),
        (1.4, 1.475, 0.025 / 8, False),  # strips at 1.4–1.475 do not exist (§1.2)
        (1.475, 1.8, 0.025 / 8, True),
        (1.8, 2.0, 0.025 / 6, True),
        (2.0, 2.4, 0.025 / 4, True),
        (2.4, 2.5, 0.025, True),  # native pitch 0.025 at 2.4–2.5 (§2.3 ws3)
        (2.5, ETA_TABLE_MAX, 0.025, False),
    ],
    L2: [
        (0.0, 1.4, 0.025, True),
        (1.4, 1.425, 0.025, False),
        (1.425, 2.5, 0.025, True),
        (2.5, ETA_TABLE_MAX, 0.025, False),
    ],
    L3: [
        (0.0, 1.35, 0.05, True),
        (1.35, 1.5, 0.05, False),  # no back cells at 1.35–1.5 (§1.2)
        (1.5, 2.5, 0.05, True),
        (2.5, ETA_TABLE_MAX, 0.05, False),
    ],
    **{h: [(0.0, ETA_TABLE_MAX, 0.1, True)] for h in HAD_LAYERS},
}

# --- radii / |z| at shower depth, mm (§1.2 [K]; hadronic layers [K]: Tile A/BC/D, HEC 0/1/2) ---
R_LAYER = {PS: 1430.0, L1: 1550.0, L2: 1680.0, L3: 1920.0, HAD1: 2450.0, HAD2: 3000.0, HAD3: 3600.0}
Z_LAYER = {PS: 3630.0, L1: 3750.0, L2: 3950.0, L3: 4200.0, HAD1: 4450.0, HAD2: 4950.0, HAD3: 5600.0}
BARREL_LIMIT = {PS: 1.52, L1: BARREL_EDGE, L2: BARREL_EDGE, L3: BARREL_EDGE, HAD1: 1.5, HAD2: 1.5, HAD3: 1.5}

# --- depths (§1.2 [K]) ---------------------------------------------------------------------------
L1_DEPTH, L2_DEPTH = 4.4, 16.0  # X0, times s(|η|)
L3_DEPTH_BARREL = 2.0  # X0·s in the barrel; the endcap L3 is the remainder to D_tot
PS_TO_ACCORDION = 0.4  # X0: the PS sits 0.4 X0 in front of the accordion, X_PS = X_up − 0.4 (§1.3)
D_PS_BARREL, D_PS_ENDCAP = 0.079, 0.036  # PS active depth (X0), §1.2/§1.5


# --- effective accordion medium (§1.2 table [K, derived]) ----------------------------------------
@dataclass(frozen=True)
class Medium:
    X0_mm: float
    R_M_mm: float
    Ec_GeV: float
    Z: float


MEDIUM_BARREL_LOW = Medium(20.0, 38.0, 0.011, 60.0)  # |η| < 0.8
MEDIUM_BARREL_HIGH = Medium(24.0, 42.0, 0.012, 60.0)  # 0.8 ≤ |η| < 1.475
MEDIUM_ENDCAP = Medium(20.0, 39.0, 0.011, 60.0)


def medium_arrays(abs_eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R_M [mm], E_c [GeV], Z_eff) per |η| for the effective accordion medium (§1.2)."""
    a = np.asarray(abs_eta, dtype=F32)
    reg = np.where(a < 0.8, 0, np.where(a < BARREL_EDGE, 1, 2))
    media = (MEDIUM_BARREL_LOW, MEDIUM_BARREL_HIGH, MEDIUM_ENDCAP)
    R_M = np.array([m.R_M_mm for m in media], dtype=F32)[reg]
    Ec = np.array([m.Ec_GeV for m in media], dtype=F32)[reg]
    Z = np.array([m.Z for m in media], dtype=F32)[reg]
    return R_M, Ec, Z


def total_depth(abs_eta: np.ndarray) -> np.ndarray:
    """D_tot(|η|) of the accordion in X0 along the path (§1.2, interpolated linearly [K])."""
    a = np.asarray(abs_eta, dtype=F32)
    barrel_low = F32(22.4) * np.cosh(a)
    barrel_high = np.interp(a, [0.8, 1.3], [24.5, 33.0]).astype(F32)
    endcap = np.interp(a, [1.5, 2.5], [24.0, 38.0]).astype(F32)
    return np.where(a < 0.8, barrel_low, np.where(a < BARREL_EDGE, barrel_high, endcap)).astype(F32)


def depth_boundaries(abs_eta: np.ndarray, X_up: np.ndarray) -> np.ndarray:
    """Layer boundaries along the path from the first material (X0), shape (..., 4).

    [X_up, X_up + L1, X_up + L1 + L2, X_up + D_tot]: L1 = 4.4·s, L2 = 16·s with s = D_tot/22.4
    (barrel) or D_tot/24 (endcap); L3 is the rest (2·s in the barrel), §1.2.
    """
    a = np.asarray(abs_eta, dtype=F32)
    D = total_depth(a)
    s = D / np.where(a < BARREL_EDGE, F32(22.4), F32(24.0))
    x = np.asarray(X_up, dtype=F32)
    b1 = x + F32(L1_DEPTH) * s
    b2 = b1 + F32(L2_DEPTH) * s
    return np.stack(np.broadcast_arrays(x, b1, b2, x + D), axis=-1).astype(F32)


def presampler_depth(abs_eta: np.ndarray) -> np.ndarray:
    """Active PS depth d_PS (X0): 0.079 barrel, 0.036 endcap (§1.5)."""
    a = np.asarray(abs_eta, dtype=F32)
    return np.where(a < BARREL_LIMIT[PS], F32(D_PS_BARREL), F32(D_PS_ENDCAP)).astype(F32)


# --- impact point and cell positions (§0) --------------------------------------------------------
def is_barrel(layer: int, abs_eta: np.ndarray) -> np.ndarray:
    """True where a particle at |η| meets ``layer`` in the barrel (cylinder) rather than an endcap disk."""
    return np.asarray(abs_eta) < BARREL_LIMIT[layer]


def transverse_radius(layer: int, eta: np.ndarray) -> np.ndarray:
    """r⊥ (mm) at which direction η meets ``layer``: R_L (barrel) or |z_L|/|sinh η| (endcap)."""
    eta = np.asarray(eta, dtype=F32)
    sh = np.maximum(np.abs(np.sinh(eta)), F32(1e-6))
    r = np.where(is_barrel(layer, np.abs(eta)), F32(R_LAYER[layer]), F32(Z_LAYER[layer]) / sh)
    return r.astype(F32, copy=False)


def impact_eta(
    eta: np.ndarray, z_v: np.ndarray, layer: int, sinh_eta: np.ndarray | None = None
) -> np.ndarray:
    """Detector η_L at which a particle of direction η from vertex z_v (mm) meets ``layer`` (§0).

    Barrel: asinh(sinh η + z_v/r_L); endcap: asinh(sinh η·|z_L|/(|z_L| − z_v·sgn η)).
    sinh_eta: np.sinh(η) (float32) when the caller already has it (several layers, same objects).
    """
    if layer not in ALL_LAYERS:
        raise ValueError(f"impact_eta: unknown layer {layer}; expected one of {ALL_LAYERS}")
    eta = np.asarray(eta, dtype=F32)
    z_v = np.asarray(z_v, dtype=F32)
    sh = np.sinh(eta) if sinh_eta is None else sinh_eta
    zl = F32(Z_LAYER[layer])
    # one arcsinh of the selected argument (the same float32 values as selecting after two)
    barrel = sh + z_v / F32(R_LAYER[layer])
    endcap = sh * zl / (zl - z_v * np.sign(eta))
    return np.arcsinh(np.where(is_barrel(layer, np.abs(eta)), barrel, endcap)).astype(F32, copy=False)


def cell_xyz(layer: int, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cartesian (x, y, z) in mm of cells at detector (η, φ) in ``layer`` (barrel r_L or endcap |z_L|)."""
    eta = np.asarray(eta, dtype=F32)
    phi = np.asarray(phi, dtype=F32)
    r = transverse_radius(layer, eta)
    return (r * np.cos(phi)).astype(F32), (r * np.sin(phi)).astype(F32), (r * np.sinh(eta)).astype(F32)


# --- global cell tables and windows --------------------------------------------------------------
def _build_table(layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed η edges over (−ETA_TABLE_MAX, ETA_TABLE_MAX) and the existence of each cell."""
    pos, ex = [np.zeros(1)], []
    for lo, hi, pitch, exists in _SEGMENTS[layer]:
        n = round((hi - lo) / pitch)
        pos.append(lo + pitch * np.arange(1, n + 1))
        ex.append(np.full(n, exists))
    edges_pos = np.concatenate(pos)
    exists_pos = np.concatenate(ex)
    edges = np.concatenate([-edges_pos[::-1], edges_pos[1:]])
    exists = np.concatenate([exists_pos[::-1], exists_pos])
    return edges.astype(np.float64), exists


ETA_EDGES: dict[int, np.ndarray] = {}
CELL_EXISTS: dict[int, np.ndarray] = {}
for _layer in ALL_LAYERS:
    ETA_EDGES[_layer], CELL_EXISTS[_layer] = _build_table(_layer)
N_PHI = {layer: round(2 * np.pi / DPHI[layer]) for layer in ALL_LAYERS}
N_ETA = {layer: len(CELL_EXISTS[layer]) for layer in ALL_LAYERS}


def eta_pitch(layer: int, abs_eta: np.ndarray) -> np.ndarray:
    """Native η pitch of ``layer`` at |η| (e.g. the strip pitch 0.025/8, /6, /4 in L1)."""
    edges = ETA_EDGES[layer]
    i = np.clip(
        np.searchsorted(edges, np.asarray(abs_eta, dtype=np.float64), side="right") - 1, 0, len(edges) - 2
    )
    return (edges[i + 1] - edges[i]).astype(F32)


@dataclass
class LayerGrid:
    """A per-candidate window of native cells in one layer.

    eta_edges (N, nη+1) and phi_edges (N, nφ+1) are detector cell edges (φ edges continuous,
    possibly beyond ±π; centres are wrapped to [−π, π)); ieta0/iphi0 (N,) are the global
    indices of the first cell (φ index modulo N_PHI[layer]); exists (N, nη, nφ).
    """

    layer: int
    eta_edges: np.ndarray
    phi_edges: np.ndarray
    ieta0: np.ndarray
    iphi0: np.ndarray
    exists: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.eta_edges.shape[1] - 1, self.phi_edges.shape[1] - 1

    @property
    def eta_centres(self) -> np.ndarray:
        return (0.5 * (self.eta_edges[:, 1:] + self.eta_edges[:, :-1])).astype(F32)

    @property
    def phi_centres(self) -> np.ndarray:
        c = 0.5 * (self.phi_edges[:, 1:] + self.phi_edges[:, :-1])
        return ((c + np.pi) % (2 * np.pi) - np.pi).astype(F32)


def _start_index(u: np.ndarray, n: int) -> np.ndarray:
    # the n cells whose centres are nearest the centre (odd n: the cell containing it ± (n−1)/2)
    return np.floor(u - n / 2 + 0.5).astype(np.int64)


def make_grid(
    layer: int, centre_eta: np.ndarray, centre_phi: np.ndarray, n_eta: int, n_phi: int
) -> LayerGrid:
    """Detector-aligned window of n_eta × n_phi native cells around (centre_eta, centre_phi) per candidate.

    For odd n the window is the cell containing the centre ± (n−1)/2 cells; for even n it is the
    n cells whose centres are nearest the centre. Cells outside the coverage are included with
    exists=False (their energy is 0 without noise, §1.2).
    """
    if layer not in ALL_LAYERS:
        raise ValueError(f"make_grid: unknown layer {layer}; expected one of {ALL_LAYERS}")
    if n_eta < 1 or n_phi < 1:
        raise ValueError(f"make_grid: window size must be ≥ 1 cell, got {n_eta}×{n_phi}")
    ce = np.asarray(centre_eta, dtype=np.float64)
    cp = np.asarray(centre_phi, dtype=np.float64)
    if ce.ndim != 1 or cp.shape != ce.shape:
        raise ValueError(f"make_grid: expected 1-D centres of equal shape, got {ce.shape} and {cp.shape}")
    if np.any(~np.isfinite(ce)) or np.any(np.abs(ce) > 2.7):
        raise ValueError("make_grid: centre_eta must be finite with |η| ≤ 2.7 (table covers ±3.2)")
    edges, exists = ETA_EDGES[layer], CELL_EXISTS[layer]
    i = np.searchsorted(edges, ce, side="right") - 1
    u = i + (ce - edges[i]) / (edges[i + 1] - edges[i])
    # near the end of the cell table a wide window (e.g. 119 strips) is shifted inward rather than
    # read past the table; the cells it loses lie outside the coverage (exists=False) anyway
    ie0 = np.clip(_start_index(u, n_eta), 0, len(edges) - 1 - n_eta)
    ie = ie0[:, None] + np.arange(n_eta + 1)
    eta_edges = edges[ie].astype(F32)
    dphi = DPHI[layer]
    ip0 = _start_index((cp + np.pi) / dphi, n_phi)
    phi_edges = (-np.pi + (ip0[:, None] + np.arange(n_phi + 1)) * dphi).astype(F32)
    # = broadcast_to(exists[ie[:, :-1]][:, :, None], …).copy(); np.repeat is ~4× faster for L1's 2 columns
    ex = np.repeat(exists[ie[:, :-1]].ravel(), n_phi).reshape(len(ce), n_eta, n_phi)
    return LayerGrid(layer, eta_edges, phi_edges, ie0, ip0 % N_PHI[layer], ex)
