"""Underlying event and pileup particles around a T3 candidate (PHYSICS.md §1.7 adapted to CMS) [K].

Particles are drawn uniformly in the ±0.35 (η, φ) square of the generation window (40 crystals,
which also holds the ΔR < 0.3 isolation cones). Densities per unit η–φ area:
- charged tracks from the primary vertex (UE): 1.0, p_T = 0.5 GeV + Exp(1 GeV);
- charged pileup tracks: 0.35·μ, p_T = 0.5 GeV + Exp(0.5 GeV), each from a pileup vertex with its
  own z ~ N(0, 35 mm) (so they fill TracksDz);
- soft photons (π0 decays of UE + pileup): 0.5 + 0.15·μ, E_T = 0.5 GeV + Exp(0.5 GeV);
- neutral hadrons: 0.1·μ, E_T = 0.5 GeV + Exp(0.5 GeV), HCAL only (neutral isolation, H/E).
The event density ρ_true = 0.6 + 0.20·μ GeV and ρ_meas = ρ_true·(1 + 0.1·N(0,1)) follow §1.7.
Slot counts are capped (fixed shapes, §0 rule 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim.cms.hadrons import MIP_SIGMA
from egml.sim.cms.higgs import Z_VERTEX_SIGMA_MM
from egml.sim.cms.objects import EMShowers, HadronDeposits, Tracks
from egml.sim.cms.tracker import CONV_PATH_X0, prompt_tracks

F32 = np.float32
HALF_SIDE = 0.35
AREA = (2 * HALF_SIDE) ** 2
K_TRACKS, K_PHOTONS, K_NEUTRAL, K_VERTICES = 32, 16, 8, 16
UE_TRACK_DENSITY, PU_TRACK_DENSITY_PER_MU = 1.0, 0.35
UE_TRACK_PT_MEAN, PU_PT_MEAN = 1.0, 0.5
PHOTON_DENSITY, PHOTON_DENSITY_PER_MU = 0.5, 0.15
NEUTRAL_DENSITY_PER_MU = 0.1
PT_MIN = 0.5
RHO_UE, RHO_PER_MU, RHO_RESOLUTION = 0.6, 0.20, 0.1


@dataclass
class Pileup:
    photons: EMShowers
    neutral: HadronDeposits
    tracks: Tracks
    rho: np.ndarray  # measured ρ (GeV per unit area)


def _slots(rng, n, k, mean):
    count = rng.poisson(mean)
    return np.arange(k)[None, :] < np.minimum(count, k)[:, None]


def draw_pileup_particles(
    rng: np.random.Generator,
    axis_eta: np.ndarray,
    axis_phi: np.ndarray,
    mu: np.ndarray,
    n_pv: np.ndarray,
    z_v: np.ndarray,
) -> Pileup:
    """UE and pileup particles (fixed-shape draws) around the candidate axes."""
    n = axis_eta.shape[0]
    mu = mu.astype(np.float64)
    d_ue, d_pu = UE_TRACK_DENSITY, PU_TRACK_DENSITY_PER_MU * mu
    trk_mask = _slots(rng, n, K_TRACKS, (d_ue + d_pu) * AREA)
    u = rng.random((n, K_TRACKS, 5))
    z_vtx = rng.normal(0.0, Z_VERTEX_SIGMA_MM, (n, K_VERTICES))
    is_pu = u[..., 0] < d_pu[:, None] / (d_ue + d_pu[:, None])
    n_pu_vtx = np.clip(n_pv - 1, 1, K_VERTICES - 1)
    vtx = np.where(is_pu, 1 + (u[..., 1] * n_pu_vtx[:, None]).astype(np.int32), 0)
    pt = PT_MIN - np.where(is_pu, PU_PT_MEAN, UE_TRACK_PT_MEAN) * np.log(np.maximum(u[..., 2], 1e-30))
    eta = axis_eta[:, None] + HALF_SIDE * (2 * u[..., 3] - 1)
    phi = axis_phi[:, None] + HALF_SIDE * (2 * u[..., 4] - 1)
    q = np.where(rng.random((n, K_TRACKS)) < 0.5, 1.0, -1.0)
    dz = np.where(vtx > 0, (np.take_along_axis(z_vtx, vtx, 1) - z_v[:, None]) / 10.0, 0.0)
    tracks = prompt_tracks(
        pt, eta, phi, q, trk_mask, rng.standard_normal((n, K_TRACKS, 2)), vtx, dz.astype(F32)
    )

    ph_mask = _slots(rng, n, K_PHOTONS, (PHOTON_DENSITY + PHOTON_DENSITY_PER_MU * mu) * AREA)
    v = rng.random((n, K_PHOTONS, 4))
    ph_eta = axis_eta[:, None] + HALF_SIDE * (2 * v[..., 0] - 1)
    ph_et = PT_MIN - PU_PT_MEAN * np.log(np.maximum(v[..., 1], 1e-30))
    photons = EMShowers(
        E=np.where(ph_mask, ph_et * np.cosh(ph_eta), 0).astype(F32),
        eta=ph_eta.astype(F32),
        phi=(axis_phi[:, None] + HALF_SIDE * (2 * v[..., 2] - 1)).astype(F32),
        t0=(-CONV_PATH_X0 * np.log(np.maximum(v[..., 3], 1e-30))).astype(F32),
        mask=ph_mask,
    )

    nh_mask = _slots(rng, n, K_NEUTRAL, NEUTRAL_DENSITY_PER_MU * mu * AREA)
    w = rng.random((n, K_NEUTRAL, 3))
    nh_eta = axis_eta[:, None] + HALF_SIDE * (2 * w[..., 0] - 1)
    nh_et = PT_MIN - PU_PT_MEAN * np.log(np.maximum(w[..., 1], 1e-30))
    neutral = HadronDeposits(
        E_ecal=np.zeros((n, K_NEUTRAL), F32),
        E_hcal=np.where(nh_mask, nh_et * np.cosh(nh_eta), 0).astype(F32),
        eta=nh_eta.astype(F32),
        phi=(axis_phi[:, None] + HALF_SIDE * (2 * w[..., 2] - 1)).astype(F32),
        sigma=np.full((n, K_NEUTRAL), MIP_SIGMA, F32),
        mask=nh_mask,
    )
    rho = (RHO_UE + RHO_PER_MU * mu) * (1 + RHO_RESOLUTION * rng.standard_normal(n))
    return Pileup(photons=photons, neutral=neutral, tracks=tracks, rho=rho.astype(F32))
