"""CMS ECAL barrel (EB) crystal geometry and the per-candidate crystal windows (PHYSICS.md §4).

Crystals are indexed by signed ``ieta`` (crystal k spans η ∈ [k·Δη, (k+1)·Δη), EB holds
k = -85 … 84, |η| < 1.479) and ``iphi`` ∈ [0, 360) (crystal j spans φ ∈ [-π + jΔφ, -π + (j+1)Δφ)).
Δφ = 2π/360 exactly so that iφ wraps around; Δη = 0.0174 (§4). A window is a block of
crystals given by its first (ieta, iphi); its φ edges are kept unwrapped and object φ is
expressed relative to the window start, so wrap-around costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- PHYSICS.md §4 detector constants [K] ---
DETA = np.float32(0.0174)  # crystal η size
N_IPHI = 360
DPHI = np.float32(2.0 * np.pi / N_IPHI)  # crystal φ size (0.01745, "0.0174" in §4)
IETA_MIN, IETA_MAX = -85, 84  # EB crystal rows (inclusive): |η| < 85·0.0174 = 1.479
R_FRONT_MM = np.float32(1290.0)  # ECAL front-face radius
X0_MM = np.float32(8.9)  # PbWO4 radiation length
R_M_MM = np.float32(21.9)  # Molière radius (default 2.19 cm; §0 rule 6 scales it)
EC_GEV = np.float32(0.0093)  # critical energy
Z_EFF = np.float32(68.0)
CRYSTAL_DEPTH_X0 = np.float32(25.8)
LAMBDA_INT_MM = np.float32(202.8)  # PbWO4 nuclear interaction length [K: PDG]
CRYSTAL_DEPTH_LAMBDA = np.float32(CRYSTAL_DEPTH_X0 * X0_MM / LAMBDA_INT_MM)  # ≈ 1.13 λ
HCAL_TOWER = np.float32(0.087)  # HCAL tower size in η and φ (for H/E)
ETA_ACCEPT = np.float32(1.44)  # preselection |η| (§4)

IMAGE_SIZE = 32  # SC_energy crop (§4, [S:C3])
IMAGE_SEED = 15  # 0-based position of the E_max crystal in the crop
GEN_SIZE = 40  # generation window: the crop plus room for the seed search
GEN_CENTRE = 19  # crystal of the leading object inside the generation window
SEED_SEARCH = 4  # seed searched within ±4 crystals of GEN_CENTRE (crop stays inside)


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Wrap angles into [-π, π)."""
    return ((phi + np.pi) % (2.0 * np.pi) - np.pi).astype(np.float32)


def ieta_of(eta: np.ndarray) -> np.ndarray:
    """Signed crystal row containing detector η (may lie outside EB)."""
    return np.floor(np.asarray(eta, np.float32) / DETA).astype(np.int32)


def iphi_of(phi: np.ndarray) -> np.ndarray:
    """Crystal column in [0, 360) containing φ."""
    return (np.floor((np.asarray(phi, np.float32) + np.pi) / DPHI).astype(np.int32)) % N_IPHI


def ieta_centre(ieta: np.ndarray) -> np.ndarray:
    """η of the centre of crystal row ``ieta``."""
    return ((np.asarray(ieta, np.float32) + 0.5) * DETA).astype(np.float32)


def iphi_centre(iphi: np.ndarray) -> np.ndarray:
    """φ of the centre of crystal column ``iphi``."""
    return wrap_phi((np.asarray(iphi, np.float32) + 0.5) * DPHI - np.pi)


def row_exists(ieta: np.ndarray) -> np.ndarray:
    """True for crystal rows inside EB; crystals outside read 0 without noise (§1.2, §4)."""
    return (ieta >= IETA_MIN) & (ieta <= IETA_MAX)


@dataclass(frozen=True)
class CrystalWindow:
    """A per-candidate block of ``size``×``size`` crystals, rows iη and columns iφ.

    ``ieta0``/``iphi0`` (N,) are the first row/column; ``exists`` (N, size) marks EB rows.
    """

    ieta0: np.ndarray
    iphi0: np.ndarray
    size: int

    @property
    def ieta(self) -> np.ndarray:
        return self.ieta0[:, None] + np.arange(self.size, dtype=np.int32)

    @property
    def iphi(self) -> np.ndarray:
        return (self.iphi0[:, None] + np.arange(self.size, dtype=np.int32)) % N_IPHI

    @property
    def exists(self) -> np.ndarray:
        return row_exists(self.ieta)

    @property
    def eta_lo(self) -> np.ndarray:
        """η of the lower edge of the first row (N,)."""
        return (self.ieta0.astype(np.float32) * DETA).astype(np.float32)

    @property
    def phi_lo(self) -> np.ndarray:
        """φ of the lower edge of the first column (N,)."""
        return (self.iphi0.astype(np.float32) * DPHI - np.float32(np.pi)).astype(np.float32)

    def local_coords(
        self, cand: np.ndarray, eta: np.ndarray, phi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Position of points (η, φ) of candidate ``cand`` in crystal units from the window's
        lower corner (continuous; φ wrapped so that it is nearest to the window)."""
        u = (eta - self.eta_lo[cand]) / DETA
        half = np.float32(self.size * 0.5)
        dphi = wrap_phi(phi - self.phi_lo[cand] - half * DPHI) + half * DPHI
        return u.astype(np.float32), (dphi / DPHI).astype(np.float32)


def window_around(ieta: np.ndarray, iphi: np.ndarray, size: int, centre: int) -> CrystalWindow:
    """Window of ``size`` crystals whose element ``centre`` (0-based) is crystal (ieta, iphi)."""
    return CrystalWindow(
        ieta0=(np.asarray(ieta, np.int32) - centre).astype(np.int32),
        iphi0=((np.asarray(iphi, np.int32) - centre) % N_IPHI).astype(np.int32),
        size=size,
    )
