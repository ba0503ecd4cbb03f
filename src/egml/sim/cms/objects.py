"""Padded per-candidate object arrays of the CMS T3 generator (PHYSICS.md §0 rule 5).

Every array is (N, K) with a bool ``mask``; draws are made on the padded shape and the costly
cell integrals run only on the real objects. Angles: ``eta`` is the direction from the vertex,
``phi`` the azimuth at the ECAL front face (magnetic bending already applied).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


def _concat(cls, parts):
    return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts], axis=1) for f in fields(cls)})


@dataclass
class EMShowers:
    """EM objects that shower in the crystals: photons, conversion legs, EM sub-showers."""

    E: np.ndarray  # GeV
    eta: np.ndarray
    phi: np.ndarray
    t0: np.ndarray  # shower start, X0 behind the crystal front face
    mask: np.ndarray

    @classmethod
    def concat(cls, *parts: EMShowers) -> EMShowers:
        return _concat(cls, parts)


@dataclass
class HadronDeposits:
    """Broad hadronic deposits (EM-scale ECAL part ``E_ecal``, HCAL part ``E_hcal``)."""

    E_ecal: np.ndarray  # GeV, already scaled by h/e
    E_hcal: np.ndarray  # GeV, energy reaching the HCAL
    eta: np.ndarray
    phi: np.ndarray
    sigma: np.ndarray  # lateral Gaussian width in η/φ units
    mask: np.ndarray

    @classmethod
    def concat(cls, *parts: HadronDeposits) -> HadronDeposits:
        return _concat(cls, parts)


@dataclass
class Tracks:
    """Charged tracks: p_T (GeV), direction, φ at the ECAL face, impact parameters (cm)."""

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray  # at the vertex
    phi_ecal: np.ndarray
    dxy: np.ndarray  # cm, measured
    dz: np.ndarray  # cm, measured, relative to the primary vertex
    vertex: np.ndarray  # int: 0 = primary vertex, k > 0 = pileup vertex k
    r_origin: np.ndarray  # mm, production radius (conversion legs > 0)
    is_conversion: np.ndarray  # bool, leg of a photon conversion
    mask: np.ndarray  # reconstructed (p_T > 0.5 GeV, high purity)

    @classmethod
    def concat(cls, *parts: Tracks) -> Tracks:
        return _concat(cls, parts)
