"""ATLAS LAr / Tile cell response: sampling term, noise tables, miscalibration maps (PHYSICS.md §1.5).

E_c = m_c·[λ_c + √(a(η)²·max(λ_c, 0))·N₁] + σ_el,c·N₂ + σ_pu,c·√(μ/40)·N₃, with m_c = m_reg·m_cell
fixed per detector instance (own stream SeedSequence(entropy=detector_seed), §0 rule 5).
Cells that do not exist are exactly 0, without noise (§1.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from egml.sim import kernels
from egml.sim.atlas.geometry import (
    ALL_LAYERS,
    BARREL_LIMIT,
    DPHI,
    ETA_EDGES,
    ETA_TABLE_MAX,
    HAD_LAYERS,
    L1,
    L2,
    L3,
    N_ETA,
    N_PHI,
    PS,
    LayerGrid,
)
from egml.sim.normals import torch_randn

F32 = np.float32

# --- sampling terms (§1.5 [S:D]/[K]) -------------------------------------------------------------
A_SAMPLING_BARREL_LOW = 0.10  # |η| < 0.8
A_SAMPLING_BARREL_HIGH = 0.11  # 0.8–1.4 (used up to the barrel limit 1.475)
A_SAMPLING_ENDCAP = 0.12
A_SAMPLING_HAD = 0.50  # Tile/HEC stochastic term [K]; only Rhad uses these layers
MU_REF = 40.0  # the σ_pu table is quoted at μ = 40 (§1.5)

# --- miscalibration (§1.5 [K]) -------------------------------------------------------------------
M_REG_SIGMA = 0.0064  # per 0.2 × 0.4 (η × φ) region
M_CELL_SIGMA = 0.005  # per cell
REGION_DETA, REGION_DPHI = 0.2, 0.4
N_REG_ETA = round(2 * ETA_TABLE_MAX / REGION_DETA)
N_REG_PHI = int(np.ceil(2 * np.pi / REGION_DPHI))  # last φ region is narrower (2π/0.4 is not whole)

GEV_PER_MEV = 1e-3


def sampling_term(layer: int, abs_eta: np.ndarray, a_PS: float = 0.3) -> np.ndarray:
    """Stochastic term a (GeV^½) of a cell at |η|: a_PS for the PS, 0.10/0.11/0.12 by region (§1.5)."""
    a = np.asarray(abs_eta, dtype=F32)
    if layer == PS:
        return np.full(a.shape, a_PS, F32)
    if layer in HAD_LAYERS:
        return np.full(a.shape, A_SAMPLING_HAD, F32)
    return np.where(
        a < 0.8,
        F32(A_SAMPLING_BARREL_LOW),
        np.where(a < 1.475, F32(A_SAMPLING_BARREL_HIGH), F32(A_SAMPLING_ENDCAP)),
    ).astype(F32)


def noise_sigmas(layer: int, abs_eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(σ_el, σ_pu at μ = 40) in GeV per cell of ``layer`` at |η| (§1.5 table [K]).

    Interpolations of the table's ranges: L1 barrel σ_el 12 → 20 MeV linearly over |η| 0–1.4 and
    endcap 15 → 30 MeV over 1.5–2.5; L2 barrel σ_pu 40 MeV·(1 + 1.5·|η|/2.3) (40 at 0 → 100 at 2.3).
    The three hadronic layers share the Tile A / HEC-0 values.
    """
    a = np.asarray(abs_eta, dtype=F32)
    if layer not in ALL_LAYERS:
        raise ValueError(f"noise_sigmas: unknown layer {layer}; expected one of {ALL_LAYERS}")
    barrel = a < BARREL_LIMIT[layer]
    if layer == PS:
        el = np.where(barrel, 30.0, 40.0)
        pu = np.where(barrel, 40.0, 100.0)
    elif layer == L1:
        el = np.where(barrel, 12.0 + 8.0 * np.clip(a / 1.4, 0, 1), 15.0 + 15.0 * np.clip(a - 1.5, 0, 1))
        pu = np.where(barrel, 10.0, 30.0)
    elif layer == L2:
        el = np.where(barrel, 30.0, 50.0)
        pu = np.where(barrel, 40.0 + 60.0 * np.clip(a / 2.3, 0, 1), 100.0)
    elif layer == L3:
        el = np.where(barrel, 20.0, 30.0)
        pu = np.where(barrel, 10.0, 40.0)
    else:
        el = np.where(barrel, 25.0, 150.0)
        pu = np.where(barrel, 50.0, 200.0)
    return (el * GEV_PER_MEV).astype(F32), (pu * GEV_PER_MEV).astype(F32)


@dataclass
class DetectorInstance:
    """Fixed miscalibration maps of one detector: m_reg per 0.2 × 0.4 region, m_cell per cell (§1.5).

    m_reg: (N_REG_ETA, N_REG_PHI); m_cell[layer]: (N_ETA[layer], N_PHI[layer]) on the global cell
    tables of ``geometry``. m_c = m_reg(region of the cell centre)·m_cell.
    """

    seed: int
    m_reg: np.ndarray
    m_cell: dict[int, np.ndarray]

    @classmethod
    def from_seed(
        cls, detector_seed: int, m_reg_sigma: float = M_REG_SIGMA, m_cell_sigma: float = M_CELL_SIGMA
    ) -> DetectorInstance:
        """Draw the maps from SeedSequence(entropy=detector_seed), in a fixed order (§0 rule 5)."""
        if not isinstance(detector_seed, int | np.integer) or detector_seed < 0:
            raise ValueError(
                f"DetectorInstance.from_seed: expected a non-negative int seed, got {detector_seed!r}"
            )
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=int(detector_seed))))
        m_reg = (1 + m_reg_sigma * rng.standard_normal((N_REG_ETA, N_REG_PHI))).astype(F32)
        m_cell = {
            layer: (1 + m_cell_sigma * rng.standard_normal((N_ETA[layer], N_PHI[layer]))).astype(F32)
            for layer in ALL_LAYERS
        }
        return cls(int(detector_seed), m_reg, m_cell)

    @classmethod
    def ideal(cls) -> DetectorInstance:
        """A perfectly calibrated detector (all m = 1), for tests and oracles."""
        return cls(
            -1,
            np.ones((N_REG_ETA, N_REG_PHI), F32),
            {L: np.ones((N_ETA[L], N_PHI[L]), F32) for L in ALL_LAYERS},
        )

    def calibration(self, grid: LayerGrid) -> np.ndarray:
        """m_c = m_reg·m_cell for every cell of a window, (N, nη, nφ) float32.

        The product map of each layer is built once on the global cell table (region of each
        cell centre) and gathered with one flat index per cell.
        """
        n_eta, n_phi = grid.shape
        ie = np.clip(grid.ieta0[:, None] + np.arange(n_eta), 0, N_ETA[grid.layer] - 1)
        ip = (grid.iphi0[:, None] + np.arange(n_phi)) % N_PHI[grid.layer]
        flat = (ie * N_PHI[grid.layer])[:, :, None] + ip[:, None, :]
        return self.full_map(grid.layer).take(flat)

    def full_map(self, layer: int) -> np.ndarray:
        """m_reg·m_cell of every cell of the global table of ``layer``, flat (N_ETA·N_PHI,) float32."""
        cache = self.__dict__.setdefault("_maps", {})
        if layer not in cache:
            edges = ETA_EDGES[layer].astype(F32)
            eta_c = (0.5 * (edges[1:] + edges[:-1])).astype(F32)
            phi_c = (0.5 * (2 * np.arange(N_PHI[layer]) + 1) * DPHI[layer] - np.pi).astype(F32)
            re = np.clip(((eta_c + ETA_TABLE_MAX) / REGION_DETA).astype(np.int64), 0, N_REG_ETA - 1)
            rp = np.clip(((phi_c + np.pi) / REGION_DPHI).astype(np.int64), 0, N_REG_PHI - 1)
            cache[layer] = (self.m_reg[re[:, None], rp[None, :]] * self.m_cell[layer]).astype(F32).ravel()
        return cache[layer]


def standard_normals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """N(0,1) float32 of a fixed shape: torch.randn's values for a CPU generator seeded with one
    63-bit integer from ``rng`` (deterministic per block), computed by ``normals.torch_randn``
    (the same bits, ≈2× faster; torch itself below 16 values, where it uses another method)."""
    seed = int(rng.integers(0, 2**63 - 1))
    size = math.prod(shape)
    if size < 16:
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(shape, generator=gen, dtype=torch.float32).numpy()
    return torch_randn(seed, size).reshape(shape)


@dataclass
class CellResponse:
    """Measured cells and their components for one layer window, all (N, nη, nφ) float32."""

    energy: np.ndarray  # measured E_c (GeV, EM scale; negative allowed, never clipped)
    noise_el: np.ndarray | None  # σ_el·N₂ part (None unless split_noise)
    noise_pu: np.ndarray | None  # σ_pu·√(μ/40)·N₃ part
    noise_sigma: np.ndarray  # √(σ_el² + σ_pu²·μ/40), 0 where the cell does not exist
    calibration: np.ndarray  # m_c
    sampling_a: np.ndarray  # a of each cell


def cell_response(
    expected: np.ndarray,
    grid: LayerGrid,
    mu: np.ndarray,
    rng: np.random.Generator,
    detector: DetectorInstance,
    noise_scale: float = 1.0,
    a_PS: float = 0.3,
    split_noise: bool = True,
) -> CellResponse:
    """Apply §1.5 to the expected deposits λ_c (N, nη, nφ) of one layer window.

    Draws standard normals of the full window shape (fixed-shape, §0 rule 5), whether or not the
    cells exist; non-existent cells are set to exactly 0. split_noise: three normals per cell
    (N₁, N₂, N₃) with the noise parts returned separately; otherwise two (N₁ and one normal of
    width √(σ_el² + σ_pu²·μ/40), the same distribution) and noise_el = noise_pu = None.
    """
    expected = np.asarray(expected, dtype=F32)
    if expected.shape != grid.exists.shape:
        raise ValueError(f"cell_response: expected λ of shape {grid.exists.shape}, got {expected.shape}")
    mu = np.asarray(mu, dtype=F32)
    if mu.shape != (expected.shape[0],) or np.any(mu < 0):
        raise ValueError(
            f"cell_response: mu must be non-negative with shape ({expected.shape[0]},), got {mu.shape}"
        )
    abs_eta = np.abs(grid.eta_centres)
    a = sampling_term(grid.layer, abs_eta, a_PS)  # (N, nη): per row
    s_el, s_pu = noise_sigmas(grid.layer, abs_eta)
    s_el = s_el * F32(noise_scale)
    s_pu = s_pu * F32(noise_scale) * np.sqrt(mu / F32(MU_REF))[:, None]
    noise = standard_normals(rng, (3 if split_noise else 2, *expected.shape))
    shape = expected.shape
    energy, sigma, m = np.empty(shape, F32), np.empty(shape, F32), np.empty(shape, F32)
    noise_el, noise_pu = (np.empty(shape, F32), np.empty(shape, F32)) if split_noise else (None, None)
    cal_map = detector.full_map(grid.layer).reshape(N_ETA[grid.layer], N_PHI[grid.layer])
    kernels.cell_response(
        np.ascontiguousarray(expected), noise, a, s_el, s_pu, cal_map,
        grid.ieta0.astype(np.int64), grid.iphi0.astype(np.int64), np.ascontiguousarray(grid.exists),
        split_noise, energy, sigma, noise_el if split_noise else energy,
        noise_pu if split_noise else energy, m,
    )  # fmt: skip
    a_full = np.broadcast_to(a[:, :, None], expected.shape)  # read-only view
    return CellResponse(energy, noise_el, noise_pu, sigma, m, a_full)
