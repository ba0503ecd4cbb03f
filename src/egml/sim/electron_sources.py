"""Truth processes behind T2 electron candidates and the particles they put into the detector
(PHYSICS.md §3 per-class table, §1.1, §1.3, §1.6).

Six generation processes, drawn uniformly: 0 prompt e±, 1 prompt e± with a forced trident
(hard brem z < 0.5 whose photon converts in the ID), 2 prompt photon forced to convert in the
ID, 3 e± from a b/c hadron, 4 e± from a π0 (Dalitz or conversion of one decay photon), 5 a
charged hadron (π±/K±). The *class* is not chosen here: it follows from the truth record of
the track that reconstruction matches, and from its reconstructed charge (electron_classes).
Every particle is propagated by the same species functions (tracking, material, calorimeter).

Output: padded EM objects (N, 7), hadrons (N, 1) and truth tracks (N, 3): slot 0 the primary
charged particle (e± or hadron), slots 1–2 conversion / Dalitz legs (first the e⁺).

Conversion and Dalitz legs are real e±: they follow the §3 common electron model over the ID
material still ahead of them (``atlas.conversions.leg_brem``: Bethe–Heitler z, one brem photon
on the tangent at R_b, the leg from t0 = X_ID).

Trident tracks [K] (§3 CF row, ``tracking.trident_hybrid``): the prompt e±'s inner hits are
continued by the straightest of {e± after the hard brem, leg⁺, leg⁻}; a winning leg makes a
hybrid track (the prompt's perigee direction and truth, the leg's curvature sign), so an
opposite-sign leg gives a wrong-sign curvature on the prompt electron's track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim import tracking
from egml.sim.atlas import material
from egml.sim.atlas.conversions import leg_brem
from egml.sim.atlas.geometry import L2, R_LAYER, Z_LAYER
from egml.sim.atlas.objects import EMObjects, HadronObjects
from egml.sim.decays import M_PI0
from egml.sim.electron_classes import PDG_ELECTRON, PDG_PHOTON, TruthOrigin, TruthType

F32 = np.float32

N_PROCESSES = 6
PE, TRIDENT, PHOTON_CONV, HEAVY_FLAVOUR, PI0_ELECTRON, HADRON = range(N_PROCESSES)
N_EM, N_TRK = 7, 3  # EM slots: e±, its brem γ, leg e⁺, leg e⁻, other photon, brem γ of the legs

TRIDENT_Z_MAX = 0.5  # forced hard brem z < 0.5 (§3 CF)
R_FORCE_MAX_MM = 443.0  # forced conversions happen before the third SCT layer [K]
M_ELECTRON = 0.000511
M_KAON = 0.493677
KAON_SHARE = 1.0 / 7.0  # leading charged hadron: π± 60 : K±/p 10 (§1.6 species)
# heavy flavour (§3 HF row): B and D lifetimes cτ (mm) and masses (GeV), PDG [K]
CTAU_B_MM, M_B = 0.455, 5.279
CTAU_D_MM = (0.123, 0.312)  # D0, D±
M_D = 1.867
HF_Z_BETA = (2.0, 3.0)  # electron momentum fraction of the hadron
DALITZ_SHARE = 0.5  # generation share of Dalitz among π0 electrons (folded into weight_phys)
BR_DALITZ, BR_GAMMA_GAMMA = 0.01174, 0.98823  # π0 branching ratios, PDG [K]


@dataclass
class TruthTracks:
    """Charged particles that leave tracks, (N, T) arrays; lengths mm, momenta GeV."""

    present: np.ndarray
    q: np.ndarray  # true charge
    pt: np.ndarray  # at the origin
    fit_q: np.ndarray  # sign of the curvature the fit sees before smearing (≠ q for hybrid tridents)
    fit_pt: np.ndarray  # p_T the fitted perigee curvature corresponds to before smearing
    eta: np.ndarray
    phi0: np.ndarray  # azimuth of the helix at the perigee (legs: back-extrapolated)
    phi_calo: np.ndarray  # true landing φ at the L2 radius of the outermost segment (bending, brem)
    r_origin: np.ndarray
    x_after: np.ndarray  # ID material (X0) still to cross after the origin
    z_brem: np.ndarray  # energy fraction kept after the ID (1 for hadrons)
    is_electron: np.ndarray
    mass: np.ndarray
    d0_true: np.ndarray
    truth_type: np.ndarray
    truth_origin: np.ndarray
    mother_pdg: np.ndarray
    mother_type: np.ndarray


@dataclass
class Sources:
    process: np.ndarray  # (N,) generation process
    pt: np.ndarray  # generated p_T of the seed particle (GeV)
    eta: np.ndarray
    phi: np.ndarray
    force_weight: np.ndarray  # forcing/branching factor folded into weight_phys
    em: EMObjects
    had: HadronObjects
    tracks: TruthTracks
    conv_radius: np.ndarray  # (N,) true radius of a conversion feeding the candidate (0 if none)
    conv_legs_pt: np.ndarray  # (N, 2) p_T of the two legs (0 if no conversion)


def l2_radius_m(abs_eta: np.ndarray) -> np.ndarray:
    """Transverse radius (m) at which a direction |η| meets the L2 shower depth."""
    return material.calo_radius_m(abs_eta, R_LAYER[L2], Z_LAYER[L2])


def _bend(r_start_m, pt, q, abs_eta, r_l):
    return material.bend_dphi(r_start_m, r_l, np.maximum(pt, F32(1e-3)), q, abs_eta)


def generate_sources(
    rng: np.random.Generator,
    process: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mat_scale: float = 1.0,
) -> Sources:
    """Particles of each candidate; every draw below has a shape fixed by N (§0 rule 5)."""
    n = len(pt)
    pt, eta, phi = (np.asarray(a, F32) for a in (pt, eta, phi))
    aeta = np.abs(eta)
    x_id = material.X_conv(aeta, mat_scale)
    r_l = l2_radius_m(aeta)
    u = rng.random((n, 16), dtype=F32)
    q0 = np.where(u[:, 0] < 0.5, 1, -1).astype(np.int32)

    # --- the seed particle's momentum and direction ---------------------------------------------
    hf_b = u[:, 1] < 0.5
    z_hf = rng.beta(*HF_Z_BETA, size=n).astype(F32)
    # π0 (process 4): two-body γγ decay; photon 1 converts (or is the Dalitz γ*)
    cos_t = 2 * u[:, 2] - 1
    psi = F32(2 * np.pi) * u[:, 3]
    dalitz = u[:, 4] < DALITZ_SHARE
    m_ee = np.exp(np.log(2 * M_ELECTRON) + u[:, 5] * np.log(M_PI0 / (2 * M_ELECTRON)))  # Kroll–Wada ∝ 1/m [K]
    e_pi = pt * np.cosh(eta)
    beta_pi = np.sqrt(np.maximum(1 - (M_PI0 / np.maximum(e_pi, M_PI0)) ** 2, 0))
    e1 = 0.5 * e_pi * (1 + beta_pi * cos_t)
    e2 = e_pi - e1
    m_star = np.where(dalitz, m_ee, 0).astype(F32)
    cos12 = 1 - (M_PI0**2 - m_star**2) / (2 * np.maximum(e1 * e2, 1e-12))
    th12 = np.arccos(np.clip(cos12, -1, 1))
    th1, th2 = th12 * e2 / e_pi, th12 * e1 / e_pi
    ch = np.cosh(eta)
    deta1, dphi1 = th1 * np.cos(psi) * ch, th1 * np.sin(psi) * ch
    deta2, dphi2 = -th2 * np.cos(psi) * ch, -th2 * np.sin(psi) * ch

    # --- brem of the primary e± (processes 0, 1, 3) -----------------------------------------------
    trident = process == TRIDENT
    z_prim = np.where(
        trident,
        tracking.bethe_heitler_z(u[:, 6], x_id, TRIDENT_Z_MAX),
        tracking.bethe_heitler_z(u[:, 6], x_id),
    )
    # brem point uniform in material; tridents are forced to radiate before R_FORCE_MAX_MM
    f_force = material.material_fraction_at_radius(np.float32(R_FORCE_MAX_MM))
    f_b = np.where(process == TRIDENT, u[:, 7] * f_force, u[:, 7]).astype(F32)
    r_b = material.radius_at_material_fraction(f_b)
    x_b = f_b * x_id
    t0_brem = x_b + material.conversion_depth(u[:, 8])
    # forced conversions (truncated Exp): the brem γ of tridents after x_b, prompt photons (2) and
    # π0 photon 1 (4, non-Dalitz) from the start, all before R_FORCE_MAX where the legs can still
    # carry ≥ 4 Si hits; later conversions would be photons (ambiguity), so this only enriches.
    x_force = x_id * f_force
    p_conv_brem = material.conversion_probability(np.maximum(x_force - x_b, 0))
    x_c_brem = x_b - F32(material.PAIR_MFP) * np.log1p(-u[:, 9] * p_conv_brem)
    p_conv = material.conversion_probability(x_force)
    x_c = -F32(material.PAIR_MFP) * np.log1p(-u[:, 9] * p_conv)
    x_c = np.where(trident, x_c_brem, x_c).astype(F32)
    r_c = material.radius_at_material_fraction(np.clip(x_c / np.maximum(x_id, F32(1e-6)), 0, 1))
    x_share = material.pair_energy_share(u[:, 10])

    # --- primary particle kinematics per process ------------------------------------------------
    is_e_prim = np.isin(process, (PE, TRIDENT, HEAVY_FLAVOUR))
    pt_prim = pt  # e± (0, 1, 3) or hadron (5): the generated p_T is the candidate particle's
    r_origin_prim = np.zeros(n, F32)
    # heavy flavour: decay length and impact parameter (§3 HF row)
    ctau = np.where(hf_b, F32(CTAU_B_MM), np.where(u[:, 11] < 0.5, F32(CTAU_D_MM[0]), F32(CTAU_D_MM[1])))
    m_had = np.where(hf_b, F32(M_B), F32(M_D))
    e_exp = -np.log(np.maximum(u[:, 12], F32(1e-30)))
    sin_psi = np.sqrt(1 - (2 * u[:, 13] - 1) ** 2)
    d0_hf = np.where(u[:, 14] < 0.5, 1, -1) * ctau * e_exp * sin_psi
    r_hf = (pt / z_hf) / m_had * ctau * e_exp
    hf = process == HEAVY_FLAVOUR
    r_origin_prim = np.where(hf, np.minimum(r_hf, F32(30.0)), r_origin_prim).astype(
        F32
    )  # [K] cap inside the IBL
    hadron = process == HADRON
    kaon = u[:, 15] < KAON_SHARE
    m_prim = np.where(hadron, np.where(kaon, F32(M_KAON), F32(tracking.PION_MASS_GEV)), F32(M_ELECTRON))

    # bending of the primary: full momentum to the brem point, z·p_T after it (e±)
    z_eff = np.where(is_e_prim, z_prim, F32(1))
    rb_m = np.where(is_e_prim, r_b / 1000, F32(0))
    bend_full = _bend(np.zeros(n, F32), pt_prim, q0, aeta, r_l)
    bend_after_b = _bend(rb_m, pt_prim, q0, aeta, r_l)
    phi_e = phi + bend_full - bend_after_b + _bend(rb_m, z_eff * pt_prim, q0, aeta, r_l)
    phi_brem = phi + bend_full - bend_after_b

    # --- conversion legs (1: brem γ of the trident; 2: prompt γ; 4: π0 photon 1 or γ*) ----------
    has_legs = np.isin(process, (TRIDENT, PHOTON_CONV, PI0_ELECTRON))
    e_parent = np.where(trident, (1 - z_prim) * pt * ch, np.where(process == PI0_ELECTRON, e1, pt * ch))
    eta_parent = np.where(process == PI0_ELECTRON, eta + deta1, eta).astype(F32)
    phi_parent = np.where(process == PI0_ELECTRON, phi + dphi1, np.where(trident, phi_brem, phi)).astype(F32)
    leg_r = np.where(dalitz & (process == PI0_ELECTRON), F32(0), r_c).astype(F32)
    leg_x_before = np.where(dalitz & (process == PI0_ELECTRON), F32(0), x_c)
    leg_e = np.stack([x_share * e_parent, (1 - x_share) * e_parent], axis=1).astype(F32)
    leg_pt = (leg_e / np.cosh(eta_parent)[:, None]).astype(F32)
    leg_q = np.array([1, -1], np.int32)[None, :].repeat(n, 0)
    leg_phi = phi_parent[:, None] + _bend(
        (leg_r / 1000)[:, None], np.maximum(leg_pt, F32(1e-3)), leg_q, aeta[:, None], r_l[:, None]
    )  # landing without the legs' own brem: defines the helix of the leg's inner hits
    leg_x_after = np.maximum(x_id - leg_x_before, 0)[:, None].repeat(2, 1)
    legs = leg_brem(
        leg_e,
        leg_pt,
        leg_q,
        phi_parent[:, None],
        (leg_x_before / np.maximum(x_id, F32(1e-6)))[:, None],
        x_id[:, None],
        aeta[:, None],
        r_l[:, None],
        rng.random((3, n, 2), dtype=F32),
        has_legs[:, None] & (leg_e > 0),
    )
    z_leg = legs.z
    leg_phi0 = leg_phi - _bend(
        np.zeros((n, 2), F32), np.maximum(leg_pt, F32(1e-3)), leg_q, aeta[:, None], r_l[:, None]
    )

    # --- trident hybrid tracks [K]: the straightest continuation of the prompt's inner hits -----
    hyb = tracking.trident_hybrid(trident, pt, z_prim, r_b, r_c, leg_q, leg_pt, z_leg, legs.phi_leg)
    hybrid, leg_taken = hyb.hybrid, hyb.leg_taken

    # --- EM objects ------------------------------------------------------------------------------
    e_tot = pt * ch
    e_prim_obj = np.where(is_e_prim, z_prim * e_tot, 0)
    e_brem = np.where(is_e_prim & ~trident, (1 - z_prim) * e_tot, 0)
    other_e = np.where(process == PI0_ELECTRON, e2, 0)
    t0_other = material.conversion_depth(rng.random(n, dtype=F32))
    leg_obj_e = legs.E_leg * has_legs[:, None]
    brem_leg_e = legs.E_brem * has_legs[:, None]
    eta_leg = eta_parent[:, None].repeat(2, 1)
    em = EMObjects(
        E=np.concatenate([np.stack([e_prim_obj, e_brem], 1), leg_obj_e, other_e[:, None], brem_leg_e], 1),
        eta=np.concatenate([np.stack([eta, eta], 1), eta_leg, (eta + deta2)[:, None], eta_leg], 1),
        phi=np.concatenate(
            [np.stack([phi_e, phi_brem], 1), legs.phi_leg, (phi + dphi2)[:, None], legs.phi_brem], 1
        ),
        t0=np.concatenate(
            [np.stack([x_id, t0_brem], 1), x_id[:, None].repeat(2, 1), t0_other[:, None], legs.t0_brem], 1
        ),
        mask=np.ones((n, N_EM), bool),
    )
    had = HadronObjects(
        E=np.where(hadron, e_tot, 0)[:, None],
        eta=eta[:, None],
        phi=(phi + bend_full)[:, None],
        mask=hadron[:, None],
    )

    # --- truth tracks ----------------------------------------------------------------------------
    mother_prim = np.where(hadron, 0, -PDG_ELECTRON * q0)
    t_prim = np.select([hadron, hf], [TruthType.Hadron, TruthType.NonIsoElectron], TruthType.IsoElectron)
    o_prim = np.select(
        [hadron, hf & hf_b, hf, u[:, 11] < 0.5],
        [TruthOrigin.NonDefined, TruthOrigin.BottomMeson, TruthOrigin.CharmedMeson, TruthOrigin.WBoson],
        TruthOrigin.ZBoson,
    )
    mt_prim = np.where(hadron, 0, t_prim)
    leg_origin = np.where(dalitz & (process == PI0_ELECTRON), TruthOrigin.DalitzDec, TruthOrigin.PhotonConv)
    leg_mother_pdg = np.select(
        [trident, process == PHOTON_CONV, dalitz], [mother_prim, PDG_PHOTON, 0], PDG_PHOTON
    )
    leg_mother_pdg = np.where(dalitz & (process == PI0_ELECTRON), -PDG_ELECTRON * leg_q.T, leg_mother_pdg).T
    leg_mother_type = np.select(
        [trident, process == PHOTON_CONV, dalitz],
        [TruthType.IsoElectron, TruthType.IsoPhoton, TruthType.BkgElectron],
        TruthType.BkgPhoton,
    )

    def col2(prim, leg):
        return np.concatenate([np.asarray(prim)[:, None], np.asarray(leg)], axis=1)

    prim_present = is_e_prim | hadron
    tracks = TruthTracks(
        present=col2(prim_present, has_legs[:, None] & ~leg_taken),
        q=col2(q0, leg_q),
        pt=col2(pt_prim, leg_pt),
        fit_q=col2(np.where(hybrid, hyb.q, q0), leg_q),
        fit_pt=col2(np.where(hybrid, hyb.pt, pt_prim), leg_pt),
        eta=col2(eta, eta_parent[:, None].repeat(2, 1)),
        phi0=col2(phi, leg_phi0),
        phi_calo=col2(np.where(hadron, phi + bend_full, np.where(hybrid, hyb.phi_calo, phi_e)), legs.phi_leg),
        r_origin=col2(r_origin_prim, leg_r[:, None].repeat(2, 1)),
        x_after=col2(x_id, leg_x_after),
        z_brem=col2(np.where(hybrid, hyb.z, z_eff), z_leg),
        is_electron=col2(is_e_prim, np.ones((n, 2), bool)),
        mass=col2(m_prim, np.full((n, 2), M_ELECTRON, F32)),
        d0_true=col2(
            np.where(hf, d0_hf, np.where(hybrid, hyb.d0, 0)),
            tracking.conversion_d0_mm(leg_r[:, None], leg_q, leg_pt),
        ),
        truth_type=col2(t_prim, np.full((n, 2), TruthType.BkgElectron)),
        truth_origin=col2(o_prim, leg_origin[:, None].repeat(2, 1)),
        mother_pdg=col2(mother_prim, leg_mother_pdg),
        mother_type=col2(mt_prim, leg_mother_type[:, None].repeat(2, 1)),
    )
    tracks = TruthTracks(**{k: np.asarray(v) for k, v in vars(tracks).items()})

    # forcing / branching factors folded into weight_phys (§3 class mix)
    p_force_trident = tracking.bethe_heitler_prob_below(TRIDENT_Z_MAX, x_id) * f_force * p_conv_brem
    force = np.select(
        [
            process == PE,
            trident,
            process == PHOTON_CONV,
            (process == PI0_ELECTRON) & dalitz,
            process == PI0_ELECTRON,
        ],
        [
            1 - p_force_trident,
            p_force_trident,
            p_conv,
            BR_DALITZ / DALITZ_SHARE,
            2 * BR_GAMMA_GAMMA * p_conv / (1 - DALITZ_SHARE),
        ],
        1.0,
    ).astype(F32)
    conv_r = np.where(has_legs & ~(dalitz & (process == PI0_ELECTRON)), r_c, 0).astype(F32)
    return Sources(
        process, pt, eta, phi, force, em, had, tracks, conv_r, np.where(has_legs[:, None], leg_pt, 0)
    )
