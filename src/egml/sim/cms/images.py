"""From T3 candidate objects to the 32×32 crystal and track images (PHYSICS.md §4).

The generation window (40×40 crystals) is centred on the crystal hit by the candidate axis; the
seed (E_max crystal within ±4 crystals) is found on the measured energies and the 32×32 crop puts
it at (15, 15), wrapping in iφ. The procedure is identical for all classes (§0 rule 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim.cms.candidates import Candidates
from egml.sim.cms.ecal import deposit_em, deposit_hadrons
from egml.sim.cms.geometry import (
    GEN_CENTRE,
    GEN_SIZE,
    IMAGE_SIZE,
    R_FRONT_MM,
    CrystalWindow,
    ieta_centre,
    ieta_of,
    iphi_of,
    window_around,
)
from egml.sim.cms.objects import Tracks
from egml.sim.cms.response import EcalInstance, crop, crop_window, crystal_time, find_seed, measure

F32 = np.float32


@dataclass
class CandidateImages:
    energy: np.ndarray  # (N, 32, 32) GeV
    time: np.ndarray  # (N, 32, 32) ns
    tracks_pt: np.ndarray  # (N, 32, 32) GeV
    tracks_dxy: np.ndarray  # (N, 32, 32) cm, p_T-weighted mean
    tracks_dz: np.ndarray  # (N, 32, 32) cm, p_T-weighted mean
    window: CrystalWindow  # of the crop
    crystal_eta: np.ndarray  # (N, 32) row centres
    crystal_phi: np.ndarray  # (N, 32) column centres, unwrapped along the row
    expected: np.ndarray  # (N, 32, 32) noise-free λ (GeV), for checks
    expected_total: np.ndarray  # (N,) λ summed over the 40×40 generation window
    em_leak: np.ndarray  # (N,) EM energy behind the crystals (GeV)


def track_images(
    trk: Tracks, z_v: np.ndarray, win: CrystalWindow
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Σp_T and p_T-weighted mean dxy, dz (cm) per crystal of tracks projected to the ECAL face."""
    n, s = z_v.shape[0], win.size
    cand, k = np.nonzero(trk.mask)
    eta = np.arcsinh(np.sinh(trk.eta[cand, k]) + z_v[cand] / R_FRONT_MM)
    u, v = win.local_coords(cand, eta, trk.phi_ecal[cand, k])
    row, col = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    ok = (row >= 0) & (row < s) & (col >= 0) & (col < s)
    flat = (cand[ok] * s + row[ok]) * s + col[ok]
    pt = trk.pt[cand, k][ok].astype(np.float64)
    # sums on the touched crystals only (the same per-crystal sums as full-size bincounts)
    hit, slot = np.unique(flat, return_inverse=True)
    slot = slot.reshape(-1)
    s_pt = np.bincount(slot, weights=pt, minlength=hit.size)
    s_dxy = np.bincount(slot, weights=pt * trk.dxy[cand, k][ok], minlength=hit.size)
    s_dz = np.bincount(slot, weights=pt * trk.dz[cand, k][ok], minlength=hit.size)
    safe = np.where(s_pt > 0, s_pt, 1.0)
    out = np.zeros((3, n * s * s), F32)
    out[0, hit] = s_pt
    out[1, hit] = np.where(s_pt > 0, s_dxy / safe, 0)
    out[2, hit] = np.where(s_pt > 0, s_dz / safe, 0)
    out = out.reshape(3, n, s, s)
    return out[0], out[1], out[2]


def make_images(
    c: Candidates,
    rng: np.random.Generator,
    instance: EcalInstance,
    noise_gev: float,
    moliere_scale: float = 1.0,
) -> CandidateImages:
    """Deposits, response, seed, crop and track images; fixed-shape draws in a fixed order."""
    n = c.label.shape[0]
    r1 = rng.standard_normal(c.em.E.shape, dtype=F32)
    r2 = rng.standard_normal(c.em.E.shape, dtype=F32)
    n1 = rng.standard_normal((n, GEN_SIZE, GEN_SIZE), dtype=F32)
    n2 = rng.standard_normal((n, GEN_SIZE, GEN_SIZE), dtype=F32)
    n_time = rng.standard_normal((n, IMAGE_SIZE, IMAGE_SIZE), dtype=F32)
    axis_front = np.arcsinh(np.sinh(c.axis_eta) + c.z_v / R_FRONT_MM)
    gen_win = window_around(ieta_of(axis_front), iphi_of(c.axis_phi), GEN_SIZE, GEN_CENTRE)
    lam, leak = deposit_em(c.em, c.z_v, gen_win, r1, r2, moliere_scale)
    lam += deposit_hadrons(c.had, c.z_v, gen_win)
    energy = measure(lam, gen_win, instance, n1, n2, noise_gev)
    seed_row, seed_col = find_seed(energy)
    img = crop(energy, seed_row, seed_col)
    win = crop_window(gen_win, seed_row, seed_col)
    t_pt, t_dxy, t_dz = track_images(c.tracks, c.z_v, win)
    crystal_phi = win.phi_lo[:, None] + (np.arange(IMAGE_SIZE, dtype=F32) + 0.5) * F32(2 * np.pi / 360)
    return CandidateImages(
        energy=img,
        time=crystal_time(img, n_time),
        tracks_pt=t_pt,
        tracks_dxy=t_dxy,
        tracks_dz=t_dz,
        window=win,
        crystal_eta=ieta_centre(win.ieta),
        crystal_phi=crystal_phi.astype(F32),
        expected=crop(lam, seed_row, seed_col),
        expected_total=lam.sum(axis=(1, 2)),
        em_leak=leak,
    )
