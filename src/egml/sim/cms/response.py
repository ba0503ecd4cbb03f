"""CMS EB crystal response, seed search and the 32×32 crop (PHYSICS.md §4, §0 rules 3 and 5).

E_c = m_c·[λ_c + a·√max(λ_c, 0)·N₁] + σ_noise·N₂ with a = 2.8 %·√GeV (summing to 2.8 %/√E
over the cluster) and a per-crystal intercalibration m_c ~ N(1, 0.3 %) fixed per detector
instance (the constant term). Noise 50 MeV per crystal, never clipped. Crystals outside EB
read 0 without noise. SC_time = N(0, 0.2 ns) for crystals above ``TIME_THRESHOLD_GEV`` and 0
elsewhere: a crystal without a signal has no time (departure: §4 only says N(0, 0.2 ns)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim.cms.geometry import (
    GEN_CENTRE,
    IETA_MAX,
    IETA_MIN,
    IMAGE_SEED,
    IMAGE_SIZE,
    N_IPHI,
    SEED_SEARCH,
    CrystalWindow,
)
from egml.sim.rng import detector_rng

F32 = np.float32
STOCHASTIC_TERM = 0.028  # σ/E = 2.8 %/√E (§4)
CONSTANT_TERM = 0.003  # ⊕ 0.3 % (§4), realised by the intercalibration map
NOISE_GEV = 0.050  # per crystal (§4; configurable 40–80 MeV)
TIME_SIGMA_NS = 0.2  # §4
TIME_THRESHOLD_GEV = 0.2  # 4 σ_noise: crystals with a time measurement


@dataclass(frozen=True)
class EcalInstance:
    """Fixed per-crystal intercalibration m_c of one detector instance, (170, 360)."""

    intercalibration: np.ndarray

    @classmethod
    def from_seed(cls, detector_seed: int) -> EcalInstance:
        rng = detector_rng(detector_seed)
        m = 1.0 + CONSTANT_TERM * rng.standard_normal((IETA_MAX - IETA_MIN + 1, N_IPHI))
        return cls(intercalibration=m.astype(F32))

    def at(self, win: CrystalWindow) -> np.ndarray:
        """m_c on the window (N, S, S); 0 on rows outside EB."""
        rows = np.clip(win.ieta - IETA_MIN, 0, IETA_MAX - IETA_MIN)
        m = self.intercalibration[rows[:, :, None], win.iphi[:, None, :]]
        return np.where(win.exists[:, :, None], m, F32(0))


def measure(
    lam: np.ndarray,
    win: CrystalWindow,
    instance: EcalInstance,
    n1: np.ndarray,
    n2: np.ndarray,
    noise_gev: float,
) -> np.ndarray:
    """Measured crystal energies (N, S, S) float32 from λ and the (N, S, S) normal draws."""
    exists = win.exists[:, :, None]
    e = (
        instance.at(win) * (lam + F32(STOCHASTIC_TERM) * np.sqrt(np.maximum(lam, 0)) * n1)
        + F32(noise_gev) * n2
    )
    return np.where(exists, e, F32(0)).astype(F32)


def find_seed(energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row/column (in the generation window) of the E_max crystal within ±SEED_SEARCH of its centre."""
    lo, hi = GEN_CENTRE - SEED_SEARCH, GEN_CENTRE + SEED_SEARCH + 1
    box = energy[:, lo:hi, lo:hi].reshape(energy.shape[0], -1)
    arg = np.argmax(box, axis=1)
    side = hi - lo
    return (lo + arg // side).astype(np.int32), (lo + arg % side).astype(np.int32)


def crop(images: np.ndarray, seed_row: np.ndarray, seed_col: np.ndarray) -> np.ndarray:
    """The IMAGE_SIZE² crop with the seed at (IMAGE_SEED, IMAGE_SEED) (rows iη, columns iφ)."""
    ar = np.arange(IMAGE_SIZE)
    rows = (seed_row - IMAGE_SEED)[:, None] + ar
    cols = (seed_col - IMAGE_SEED)[:, None] + ar
    n = np.arange(images.shape[0])[:, None, None]
    return images[n, rows[:, :, None], cols[:, None, :]]


def crop_window(win: CrystalWindow, seed_row: np.ndarray, seed_col: np.ndarray) -> CrystalWindow:
    """The CrystalWindow of the crop."""
    return CrystalWindow(
        ieta0=(win.ieta0 + seed_row - IMAGE_SEED).astype(np.int32),
        iphi0=((win.iphi0 + seed_col - IMAGE_SEED) % N_IPHI).astype(np.int32),
        size=IMAGE_SIZE,
    )


def crystal_time(energy: np.ndarray, n_time: np.ndarray) -> np.ndarray:
    """SC_time (ns): N(0, 0.2 ns) where the crystal has a signal, else 0."""
    return np.where(energy > TIME_THRESHOLD_GEV, F32(TIME_SIGMA_NS) * n_time, F32(0)).astype(F32)
