"""H → AA → (γγ)(γγ) kinematics and the event-level draws of the T3 sample (PHYSICS.md §4, §1.1).

One candidate per entry. The candidate A is the H daughter inside the EB acceptance (a random one
if both are), so that the block yield is not halved by the acceptance. The same (p_T, η, φ) of
that A also sets the truth kinematics of single photons and of the jets' leading meson (one
generation spectrum for all classes, §0 rule 3); the jets' p_T is p_T,meson/z (§1.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim.cms.geometry import ETA_ACCEPT
from egml.sim.decays import two_body

M_H = 125.1  # GeV, §4
PT_H_SHAPE, PT_H_MEAN = 1.5, 35.0  # p_T^H ~ Gamma(k = 1.5, mean 35 GeV) [K] §4
Y_H_MAX = 2.5  # |y_H| < 2.5, flat in y [K]
M_A_TRAIN = (0.1, 0.4, 0.6, 1.0)  # GeV, seed 002 training points [S:R2]
M_A_EVAL = (0.2, 0.8)  # GeV, interpolation points [S:R2]
M_A_RANGE = (0.1, 1.2)  # GeV, search range [S:C2]
Z_VERTEX_SIGMA_MM = 35.0  # §1.1 [K]
# Run-2 pileup mix (§1.1): per-year ⟨μ⟩ weighted by luminosity [K], Gamma shape k = 8.
MU_MEANS = np.array([13.4, 25.1, 37.8, 36.1])
MU_WEIGHTS = np.array([3.2, 33.0, 44.3, 58.5]) / (3.2 + 33.0 + 44.3 + 58.5)  # fb^-1 per year [K]
MU_SHAPE = 8.0


def mass_choices(
    mode: str, masses: list[float] | tuple[float, ...] | None = None
) -> tuple[float, ...] | None:
    """Discrete m_A list for ``mode`` ∈ {train, eval, all, list, continuous} (None = continuous)."""
    table = {"train": M_A_TRAIN, "eval": M_A_EVAL, "all": tuple(sorted(M_A_TRAIN + M_A_EVAL))}
    if mode in table:
        return table[mode]
    if mode == "continuous":
        return None
    if mode == "list":
        if not masses or min(masses) <= 0:
            raise ValueError(f"m_A_mode='list' needs a non-empty list of positive masses, got {masses!r}")
        return tuple(float(m) for m in masses)
    raise ValueError(f"unknown m_A_mode {mode!r}; expected train, eval, all, list or continuous")


def draw_mass(
    rng: np.random.Generator, n: int, choices: tuple[float, ...] | None, m_range=M_A_RANGE
) -> np.ndarray:
    """m_A per candidate: uniform over the discrete list, or uniform in ``m_range``."""
    u = rng.random(n)
    if choices is None:
        return m_range[0] + u * (m_range[1] - m_range[0])
    arr = np.asarray(choices, np.float64)
    return arr[np.minimum((u * len(arr)).astype(np.int64), len(arr) - 1)]


def four_vector_rapidity(pt: np.ndarray, y: np.ndarray, phi: np.ndarray, mass: float) -> np.ndarray:
    """(E, px, py, pz) float64 (the ``egml.sim.decays`` convention) from p_T, rapidity, φ, mass."""
    pt = np.asarray(pt, np.float64)
    mt = np.sqrt(pt**2 + mass**2)
    return np.stack([mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)], axis=-1)


def pt_eta_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum, pseudorapidity and azimuth of (E, px, py, pz) four-vectors."""
    pt = np.hypot(p[..., 1], p[..., 2])
    return pt, np.arcsinh(p[..., 3] / np.maximum(pt, 1e-12)), np.arctan2(p[..., 2], p[..., 1])


@dataclass
class SignalKinematics:
    """The chosen A of each H → AA decay and its two photons (float64 (E, px, py, pz))."""

    a: np.ndarray  # (N, 4)
    photons: np.ndarray  # (N, 2, 4)
    m_a: np.ndarray  # (N,)
    in_acceptance: np.ndarray  # (N,) bool: the chosen A has |η| < 1.44


def draw_h_to_aa(rng: np.random.Generator, m_a: np.ndarray) -> SignalKinematics:
    """H production, isotropic H → AA and A → γγ (fixed-shape draws: 10 per candidate)."""
    n = m_a.shape[0]
    u = rng.random((n, 10))
    pt_h = rng.gamma(PT_H_SHAPE, PT_H_MEAN / PT_H_SHAPE, n)
    y_h = Y_H_MAX * (2 * u[:, 0] - 1)
    h = four_vector_rapidity(pt_h, y_h, 2 * np.pi * u[:, 1] - np.pi, M_H)
    a1, a2 = two_body(h, m_a, m_a, 2 * u[:, 2] - 1, 2 * np.pi * u[:, 3])
    eta1, eta2 = pt_eta_phi(a1)[1], pt_eta_phi(a2)[1]
    ok1, ok2 = np.abs(eta1) < ETA_ACCEPT, np.abs(eta2) < ETA_ACCEPT
    take2 = (ok2 & ~ok1) | (ok1 & ok2 & (u[:, 4] < 0.5))
    a = np.where(take2[:, None], a2, a1)
    g1, g2 = two_body(a, 0.0, 0.0, 2 * u[:, 5] - 1, 2 * np.pi * u[:, 6])
    return SignalKinematics(a=a, photons=np.stack([g1, g2], axis=1), m_a=m_a, in_acceptance=ok1 | ok2)


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """ΔR with φ wrapped."""
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(eta1 - eta2, dphi)


def draw_pileup(rng: np.random.Generator, n: int, mu_offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(μ, n_PV): Run-2 Gamma mixture (§1.1) and n_PV ~ Poisson(0.6μ + 1) (§6)."""
    u = rng.random(n)
    year = np.minimum(np.searchsorted(np.cumsum(MU_WEIGHTS), u), len(MU_MEANS) - 1)
    mu = rng.gamma(MU_SHAPE, MU_MEANS[year] / MU_SHAPE) + mu_offset
    n_pv = rng.poisson(0.6 * mu + 1.0)
    return mu.astype(np.float32), n_pv.astype(np.int32)
