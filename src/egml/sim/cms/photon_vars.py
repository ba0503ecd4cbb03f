"""The ``pho_*`` branches of T3 from the simulated crystals and tracks (PHYSICS.md §4, §0 rule 1).

Shower shapes come from ``egml.physics.cms_photon`` applied to the SC_energy crop. Isolation,
H/E and the pixel seed use the candidate's tracks and hadron deposits, relative to the
reconstructed supercluster position, never to a truth axis.
- pho_E = E_SC,raw (no energy regression; departure from CMS, which regresses the energy).
- pho_eta: the SC position seen from the (well measured) primary vertex.
- H/E: HCAL energy of hadrons within ΔR < 0.15 of the SC plus the EM energy behind the 25.8 X0
  crystals, over E_SC,raw [K].
- pixel seed: a track made before the third pixel layer (r < 109 mm) with p_T > 1 GeV that hits
  the ECAL within |Δη| < 0.02, |Δφ| < 0.1 of the SC [K]; the conversion-safe electron veto fails
  only if such a track is not a conversion leg.
- chgIso: Σp_T of primary-vertex tracks in 0.02 ≤ ΔR < 0.3 (track direction at the vertex);
  chgIsoWrongVtx: the largest such sum over all vertices; neuIso: HCAL E_T of neutral hadrons
  in ΔR < 0.3; phoIso: crystal E_T above 0.3 GeV in ΔR < 0.3 outside the SC (not ρ-corrected).
"""

from __future__ import annotations

import numpy as np

from egml.physics import cms_photon as cp
from egml.sim.cms.candidates import Candidates
from egml.sim.cms.geometry import R_FRONT_MM
from egml.sim.cms.images import CandidateImages
from egml.sim.cms.pileup import K_VERTICES

F32 = np.float32
HOE_CONE = 0.15
ISO_CONE, ISO_VETO = 0.3, 0.02
PIXEL_SEED_R_MM, PIXEL_SEED_PT = 109.0, 1.0
PIXEL_MATCH_DETA, PIXEL_MATCH_DPHI = 0.02, 0.1


def photon_variables(c: Candidates, im: CandidateImages) -> dict[str, np.ndarray]:
    """All pho_* branches (N,)."""
    img = im.energy
    sc = cp.supercluster_mask(img)
    e_raw, sc_eta, sc_phi, eta_w, phi_w = cp.supercluster_moments(img, sc, im.crystal_eta, im.crystal_phi)
    sieie, sieip = cp.local_covariances(img)
    pho_eta = np.arcsinh(np.sinh(sc_eta) - c.z_v / R_FRONT_MM).astype(F32)
    pt = (e_raw / np.cosh(pho_eta)).astype(F32)

    had = c.had
    h = cp.cone_sum(had.E_hcal, had.eta, had.phi, had.mask, pho_eta, sc_phi, HOE_CONE) + im.em_leak
    neutral = had.mask & (had.E_ecal == 0)  # pileup neutral hadrons and late K0S have no track
    neu_iso = cp.cone_sum(had.E_hcal / np.cosh(had.eta), had.eta, had.phi, neutral, pho_eta, sc_phi, ISO_CONE)

    t = c.tracks
    t_front = np.arcsinh(np.sinh(t.eta) + c.z_v[:, None] / R_FRONT_MM)
    dphi = (t.phi_ecal - sc_phi[:, None] + np.pi) % (2 * np.pi) - np.pi
    seed_trk = (
        t.mask
        & (t.r_origin < PIXEL_SEED_R_MM)
        & (t.pt > PIXEL_SEED_PT)
        & (np.abs(t_front - sc_eta[:, None]) < PIXEL_MATCH_DETA)
        & (np.abs(dphi) < PIXEL_MATCH_DPHI)
    )
    has_pxl = seed_trk.any(axis=1)
    pass_ele_veto = ~(seed_trk & ~t.is_conversion).any(axis=1)
    pv = t.mask & (t.vertex == 0)
    chg_iso = cp.cone_sum(t.pt, t.eta, t.phi, pv, pho_eta, sc_phi, ISO_CONE, ISO_VETO)
    chg_wrong = cp.worst_vertex_isolation(t.pt, t.eta, t.phi, t.vertex, t.mask, pho_eta, sc_phi, K_VERTICES)
    pho_iso = cp.photon_isolation(img, sc, im.crystal_eta, im.crystal_phi, sc_eta, sc_phi, ISO_CONE)
    return {
        "pho_pT": pt,
        "pho_E": e_raw,
        "pho_eta": pho_eta,
        "pho_phi": sc_phi,
        "pho_r9": cp.r9(img, e_raw),
        "pho_sieie": sieie,
        "pho_sieip": sieip,
        "pho_s4": cp.s4(img),
        "pho_etaWidth": eta_w,
        "pho_phiWidth": phi_w,
        "pho_scEta": sc_eta,
        "pho_Eraw": e_raw,
        "pho_rho": c.rho,
        "pho_phoIso": pho_iso,
        "pho_chgIso": chg_iso,
        "pho_chgIsoWrongVtx": chg_wrong,
        "pho_neuIso": neu_iso,
        "pho_HoE": np.where(e_raw > 0, h / np.where(e_raw > 0, e_raw, 1), 0).astype(F32),
        "pho_hasPxlSeed": has_pxl.astype(np.int32),
        "pho_passEleVeto": pass_ele_veto.astype(np.int32),
    }
