"""The physics objects of T3 candidates: merged A → γγ, single γ and QCD jets (PHYSICS.md §4).

Every candidate draws the random numbers of every class (fixed shapes, §0 rule 5); the label
only selects which objects are real. The class models:
- label 1: the two photons of the chosen A of H → AA (``higgs``);
- label 0: one prompt photon with the A's (p_T, η, φ), plus a jet remainder with probability
  f_frag(E_T) and z ~ U(0.5, 0.95) (the T1 prompt model's fragmentation photons, §1.6);
- label 2: a QCD jet whose leading particle has the A's (p_T, η, φ), decayed by the T1 jet model
  ``egml.sim.jets`` (§1.6), and the jet remainder with z ~ Beta(4, 1.5).
``egml.sim.jets`` returns detector-agnostic (Δη, Δφ) offsets, which are reused; its ATLAS magnetic
bend (2 T) is replaced here by the CMS 3.8 T bend (its sign gives the charge). Departure: the
K0S "decays beyond the calorimeter" radius and the offset shrink of displaced K0S decays use the
T1 (ATLAS) radii 1.4 m / 1.68 m instead of the CMS 1.29 m (2 % of jets, small effect).
Photons of all classes convert in the CMS tracker (``tracker``); photons from π0 fragments of the
jet remainder are soft and are not converted (departure: saves 48 padded conversions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim import jets
from egml.sim.cms.hadrons import hadron_showers
from egml.sim.cms.higgs import (
    M_H,
    Z_VERTEX_SIGMA_MM,
    delta_r,
    draw_h_to_aa,
    draw_mass,
    draw_pileup,
    pt_eta_phi,
)
from egml.sim.cms.objects import EMShowers, HadronDeposits, Tracks
from egml.sim.cms.pileup import draw_pileup_particles
from egml.sim.cms.tracker import (
    CONV_PATH_X0,
    bend_dphi,
    convert_photons,
    ecal_reach,
    prompt_tracks,
    tracker_material,
)
from egml.sim.decays import M_PI0, two_body

F32 = np.float32
N_HARD = jets.MAX_PHOTONS  # photon slots of the hard object (6 for η → 3π0)
FRAG_Z_RANGE = (0.5, 0.95)  # z of fragmentation photons (§1.6)


@dataclass
class Candidates:
    label: np.ndarray
    em: EMShowers
    had: HadronDeposits
    tracks: Tracks
    axis_eta: np.ndarray
    axis_phi: np.ndarray
    z_v: np.ndarray  # mm
    mu: np.ndarray
    n_pv: np.ndarray
    rho: np.ndarray
    truth: dict[str, np.ndarray]


def _four_vector(pt, eta, phi, m):
    pt = np.asarray(pt, np.float64)
    e = np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)
    return np.stack([e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)


def _sign(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, -1.0, 1.0)


def draw_candidates(
    rng: np.random.Generator,
    n: int,
    class_fractions: np.ndarray,
    mass_list: tuple[float, ...] | None,
    mass_range: tuple[float, float],
    mat_scale: float = 1.0,
    mu_offset: float = 0.0,
) -> Candidates:
    """All objects of n candidates; fixed-shape draws in a fixed order."""
    label = np.minimum(np.searchsorted(np.cumsum(class_fractions), rng.random(n), side="right"), 2)
    m_a = draw_mass(rng, n, mass_list, mass_range)
    sig = draw_h_to_aa(rng, m_a)
    pt_a, eta_a, phi_a = pt_eta_phi(sig.a)
    z_v = rng.normal(0.0, Z_VERTEX_SIGMA_MM, n)
    mu, n_pv = draw_pileup(rng, n, mu_offset)
    source = jets.choose_source(rng.random(n))
    lead = jets.leading_particle(rng, pt_a, eta_a, source)

    # --- hard photons (N, 6): A → γγ, single γ, or the leading meson's photons -------------
    _, g_eta, g_phi = pt_eta_phi(sig.photons)
    g_e = sig.photons[..., 0]
    lab = label[:, None]
    k = np.arange(N_HARD)[None, :]
    pad = np.zeros((n, N_HARD - 2))
    sig_e, sig_eta, sig_phi = (np.concatenate([a, pad], 1) for a in (g_e, g_eta, g_phi))
    e_axis = (pt_a * np.cosh(eta_a))[:, None]
    E = np.where(lab == 1, sig_e, np.where(lab == 0, np.where(k == 0, e_axis, 0), lead.photon_E))
    eta = np.where(lab == 1, sig_eta, eta_a[:, None] + np.where(lab == 2, lead.photon_deta, 0))
    phi = np.where(lab == 1, sig_phi, phi_a[:, None] + np.where(lab == 2, lead.photon_dphi, 0))
    mask = np.where(lab == 1, k < 2, np.where(lab == 0, k == 0, lead.photon_mask)) & (E > 0)
    conv_em, conv_trk, converted, _ = convert_photons(
        E.astype(F32),
        eta.astype(F32),
        phi.astype(F32),
        mask,
        rng.random((n, N_HARD, 6)),
        rng.standard_normal((n, N_HARD, 4)),
        mat_scale,
    )

    # --- jet remainder (jets; fragmentation photons) ---------------------------------------
    z_jet = jets.leading_fraction_beta(rng.random(n))
    z_frag = FRAG_Z_RANGE[0] + (FRAG_Z_RANGE[1] - FRAG_Z_RANGE[0]) * rng.random(n)
    is_frag = (label == 0) & (rng.random(n) < jets.fragmentation_fraction(pt_a))
    rem = jets.jet_remainder(rng, pt_a, eta_a, np.where(label == 2, z_jet, z_frag), (label == 2) | is_frag)
    f_eta = eta_a[:, None] + rem.deta
    f_phi = phi_a[:, None] + rem.dphi
    pi0 = rem.mask & (rem.species == jets.NEUTRAL_PI0)
    u_pi0 = rng.random((n, jets.MAX_FRAGMENTS, 2))
    g1, g2 = two_body(
        _four_vector(rem.pt, f_eta, f_phi, M_PI0), 0.0, 0.0, 2 * u_pi0[..., 0] - 1, 2 * np.pi * u_pi0[..., 1]
    )
    fr_ph = np.stack([g1, g2], axis=2).reshape(n, 2 * jets.MAX_FRAGMENTS, 4)
    _, fr_eta, fr_phi = pt_eta_phi(fr_ph)
    x_c = -CONV_PATH_X0 * np.log(np.maximum(rng.random((n, 2 * jets.MAX_FRAGMENTS)), 1e-30))
    frag_em = EMShowers(
        E=fr_ph[..., 0].astype(F32),
        eta=fr_eta.astype(F32),
        phi=fr_phi.astype(F32),
        t0=np.maximum(x_c - tracker_material(np.abs(fr_eta), mat_scale), 0).astype(F32),
        mask=np.repeat(pi0, 2, axis=1) & (fr_ph[..., 0] > 0),
    )

    # --- charged hadrons: leading hadron (jets) + charged fragments -------------------------
    lead_had = (label == 2) & (lead.hadron_E > 0)
    h_charged = np.concatenate([(lead_had & lead.hadron_charged)[:, None], rem.charged], 1)
    h_pt = np.concatenate([pt_a[:, None], rem.pt], 1)
    h_eta = np.concatenate([eta_a[:, None], f_eta], 1)
    h_phi = np.concatenate([phi_a[:, None], f_phi], 1)
    q = -_sign(np.concatenate([lead.hadron_dphi[:, None], rem.dphi_calo - rem.dphi], 1))  # our bend = −q·|…|
    h_mask = np.concatenate([lead_had[:, None], rem.charged], 1) & ((~h_charged) | ecal_reach(h_pt))
    h_phi_ecal = h_phi + np.where(h_charged, bend_dphi(h_pt, q, np.zeros_like(h_pt)), 0)
    early = np.zeros_like(h_mask)
    early[:, 0] = source == jets.HADRON
    had_em, had = hadron_showers(
        (h_pt * np.cosh(h_eta)).astype(F32),
        h_eta,
        h_phi_ecal,
        h_mask,
        rng.random(h_mask.shape),
        rng.beta(2.0, 3.0, h_mask.shape).astype(F32),
        early,
    )
    had_trk = prompt_tracks(h_pt, h_eta, h_phi, q, h_charged, rng.standard_normal((*h_mask.shape, 2)))

    pu = draw_pileup_particles(rng, eta_a, phi_a, mu, n_pv, z_v)
    pho = sig.photons
    a_dr = delta_r(
        pt_eta_phi(pho[:, 0])[1], pt_eta_phi(pho[:, 0])[2], pt_eta_phi(pho[:, 1])[1], pt_eta_phi(pho[:, 1])[2]
    )
    is_a = label == 1
    truth = {
        "A_mass": np.where(is_a, m_a, 0).astype(F32),
        "A_pT": pt_a.astype(F32),
        "A_eta": eta_a.astype(F32),
        "A_phi": phi_a.astype(F32),
        "A_DR": np.where(is_a, a_dr, 0).astype(F32),
        "mHgen": np.where(is_a, M_H, 0).astype(F32),
        "gen_source": np.where(label == 2, source, np.where(is_frag, jets.FRAGMENTATION, jets.PROMPT)).astype(
            np.int32
        ),
        "gen_z": np.where(label == 2, z_jet, np.where(is_frag, z_frag, 1)).astype(F32),
        "gen_nConv": converted.sum(axis=1).astype(np.int32),
        "gen_chargedRemPt": np.where(rem.charged, rem.pt, 0).sum(1).astype(F32),
    }
    return Candidates(
        label=label.astype(np.int32),
        em=EMShowers.concat(conv_em, frag_em, had_em, pu.photons),
        had=HadronDeposits.concat(had, pu.neutral),
        tracks=Tracks.concat(conv_trk, had_trk, pu.tracks),
        axis_eta=eta_a.astype(F32),
        axis_phi=phi_a.astype(F32),
        z_v=z_v.astype(F32),
        mu=mu,
        n_pv=n_pv,
        rho=pu.rho,
        truth=truth,
    )
