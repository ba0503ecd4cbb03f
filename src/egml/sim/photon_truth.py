"""Truth-level sampling of T1 photon candidates (PHYSICS.md §1.1, §1.3, §1.6, §2).

One call draws a whole block with fixed shapes (§0 rule 5): kinematics, vertex, pileup, the
signal/background choice, the prompt photon or the leading meson, the jet remainder, the
photon conversions and the objects handed to the calorimeter. Nothing here is keyed by the
class label except the physics process itself (what particle is produced).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim import jets
from egml.sim.atlas.conversions import ConversionInfo, convert_photons
from egml.sim.atlas.material import conversion_depth
from egml.sim.atlas.objects import EMObjects, HadronObjects

F32 = np.float32

# §1.1 [K]: fiducial |η| (T1 2.37 [S:14]) without the crack, vertex spread, Run-2 pileup mix
ETA_LIMIT = 2.37
CRACK = (1.37, 1.52)
Z_VERTEX_SIGMA_MM = 35.0
MU_MEANS = np.array([13.4, 25.1, 37.8, 36.1])  # 2015–2018 ⟨μ⟩
MU_LUMI = np.array([3.2, 33.0, 44.3, 58.5])  # fb⁻¹ per year [K]: mixture weights
MU_GAMMA_SHAPE = 8.0
RUN_NUMBERS = np.array([284500, 300000, 300000, 310000], np.int32)  # mc16a/a/d/e-like [K]
SPECTRAL_INDEX = {"prompt": 4.5, "jet": 5.5}  # weight_phys ∝ p_T^(1−n) [K]
PT_REF_GEV = 25.0  # weight_phys normalisation point
FRAG_Z_RANGE = (0.5, 0.95)
K_CALO = 8  # fragment slots per kind (π0 / hadron) simulated in the calorimeter
FRAG_REACH = (
    0.4,
    0.45,
)  # |Δη|, |Δφ| from the axis beyond which a fragment cannot touch the grids  # fragmentation photons: z ~ U(0.5, 0.95) (§1.6)
# MCTruthClassifier enums [S:12]
TT_ISO_PHOTON, TT_NONISO_PHOTON, TT_BKG_PHOTON, TT_HADRON = 14, 15, 16, 17
TO_NONDEFINED, TO_LIGHT_MESON, TO_PROMPT_PHOT, TO_FSR_PHOT, TO_PI0 = 0, 23, 37, 40, 42
MCID_SIGNAL, MCID_JETS = 423100, 361020  # Pythia8 γ+jet / dijet-like sample IDs [K]


@dataclass
class PhotonTruth:
    """Truth of one block: (N,) kinematics and labels, the calorimeter objects and latents."""

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    z_v: np.ndarray
    mu: np.ndarray
    run: np.ndarray
    signal: np.ndarray
    source: np.ndarray
    truth_type: np.ndarray
    truth_origin: np.ndarray
    weight_phys: np.ndarray
    z_lead: np.ndarray
    em: EMObjects  # own objects (conversion legs of the prompt/meson photons), (N, 12)
    had: HadronObjects  # leading hadron (slot 0) + the K_CALO hadron fragments nearest, (N, 9)
    frag_em: EMObjects  # K_CALO π0 fragments of the remainder as single EM objects, (N, 8)
    remainder: jets.JetRemainder
    conv: ConversionInfo  # per photon slot (N, 6)
    lead_slot: np.ndarray  # photon slot of the leading own photon
    axis_phi: np.ndarray  # φ of the calorimeter window axis (bent for a charged leading hadron)
    lead: jets.LeadingParticle


def sample_eta(u_abs: np.ndarray, u_sign: np.ndarray, eta_limit: float = ETA_LIMIT) -> np.ndarray:
    """η uniform in |η| over [0, eta_limit) without the crack, random sign (§1.1)."""
    width = eta_limit - (CRACK[1] - CRACK[0])
    a = u_abs * width
    a = np.where(a < CRACK[0], a, a + (CRACK[1] - CRACK[0]))
    return np.where(u_sign < 0.5, -a, a).astype(F32)


def sample_mu(u_comp: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run-2 μ mixture (Gamma, k = 8, per-year mean, luminosity weights) and the run number."""
    cdf = np.cumsum(MU_LUMI) / MU_LUMI.sum()
    comp = np.minimum(np.searchsorted(cdf, u_comp, side="right"), len(cdf) - 1)
    return (MU_MEANS[comp] * g / MU_GAMMA_SHAPE).astype(F32), RUN_NUMBERS[comp]


def sample_truth(
    rng: np.random.Generator,
    n: int,
    pt_range: tuple[float, float],
    signal_fraction: float,
    mat_scale: float = 1.0,
    mu_offset: float = 0.0,
    eta_limit: float = ETA_LIMIT,
    source_probs: np.ndarray = jets.SOURCE_PROBS,
    jet_remainder: bool = True,
    jet_knobs: jets.JetKnobs = jets.DEFAULT_JET_KNOBS,
) -> PhotonTruth:
    """Draw a block of n candidates; p_T log-uniform over [0.8 p_min, 1.25 p_max] (§0 rule 2).

    ``source_probs`` (π0, η→γγ, η→3π0, ω, K0S, hadron) and ``jet_remainder`` exist for
    studies such as the isolated-π0 strip test (§2.7 check 6); the defaults are §1.6.
    """
    lo, hi = 0.8 * pt_range[0], 1.25 * pt_range[1]
    u = rng.random((10, n))
    pt = np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * u[0])
    eta = sample_eta(u[1], u[2], eta_limit)
    phi = (2 * np.pi * u[3] - np.pi).astype(F32)
    z_v = (Z_VERTEX_SIGMA_MM * rng.standard_normal(n)).astype(F32)
    mu, run = sample_mu(u[4], rng.standard_gamma(MU_GAMMA_SHAPE, n))
    mu = np.maximum(mu + F32(mu_offset), 0).astype(F32)
    signal = u[5] < signal_fraction
    frag = signal & (u[6] < jets.fragmentation_fraction(pt))
    source = np.where(
        signal,
        np.where(frag, jets.FRAGMENTATION, jets.PROMPT),
        jets.choose_source(u[7], np.asarray(source_probs, float)),
    )
    z_lead = np.where(frag, FRAG_Z_RANGE[0] + (FRAG_Z_RANGE[1] - FRAG_Z_RANGE[0]) * u[8], 1.0)
    # jet fakes: the (slow) inverse Beta CDF only where it is used, the same values elementwise
    z_lead[~signal] = jets.leading_fraction_beta(u[8][~signal], jet_knobs)

    lead = jets.leading_particle(rng, pt, eta, source)
    remainder = jets.jet_remainder(
        rng, pt, eta, np.where(signal & ~frag, 0.5, z_lead), (~signal | frag) & jet_remainder, jet_knobs
    )

    # own photons: the prompt photon in slot 0, or the meson's decay photons
    e_prompt = (pt * np.cosh(eta)).astype(F32)
    ph_E = np.where(signal[:, None], 0, lead.photon_E).astype(F32)
    ph_E[:, 0] = np.where(signal, e_prompt, ph_E[:, 0])
    ph_eta = np.where(signal[:, None], eta[:, None], eta[:, None] + lead.photon_deta).astype(F32)
    ph_phi = np.where(signal[:, None], phi[:, None], phi[:, None] + lead.photon_dphi).astype(F32)
    em, conv = convert_photons(ph_E, ph_eta, ph_phi, ph_E > 0, rng, mat_scale)
    lead_slot = np.argmax(ph_E, axis=1)

    # leading hadron + remainder hadrons (charged ones bent) and π0 fragments. Only the K_CALO most
    # energetic fragments of each kind that can reach the simulated grids go to the calorimeter
    # (fixed shape; the others are far away and feed only the isolation sums, §0 performance).
    is_pi0 = remainder.mask & (remainder.species == jets.NEUTRAL_PI0)
    is_had = remainder.mask & ~is_pi0
    dphi_c = (remainder.dphi_calo + np.pi) % (2 * np.pi) - np.pi
    reach = (np.abs(remainder.deta) < FRAG_REACH[0]) & (np.abs(dphi_c) < FRAG_REACH[1])
    f_eta = eta[:, None] + remainder.deta
    f_phi_calo = phi[:, None] + remainder.dphi_calo

    def nearest(sel: np.ndarray) -> np.ndarray:
        return np.argsort(-np.where(sel & reach, remainder.E, -1.0), axis=1, kind="stable")[:, :K_CALO]

    def take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, idx, axis=1)

    ih, ip = nearest(is_had), nearest(is_pi0)
    had_phi0 = phi + lead.hadron_dphi
    had_sel = take(is_had & reach, ih)
    had = HadronObjects(
        np.concatenate([lead.hadron_E[:, None], np.where(had_sel, take(remainder.E, ih), 0)], axis=1),
        np.concatenate([eta[:, None], take(f_eta, ih)], axis=1),
        np.concatenate([had_phi0[:, None], take(f_phi_calo, ih)], axis=1),
        np.concatenate([lead.hadron_E[:, None] > 0, had_sel], axis=1),
        np.concatenate([lead.hadron_charged[:, None], take(remainder.charged, ih)], axis=1),
    )
    # π0 fragments: one EM object each, shower start at a conversion depth (no ID conversion legs)
    t0_frag = conversion_depth(1.0 - rng.random((n, K_CALO)))
    pi0_sel = take(is_pi0 & reach, ip)
    frag_em = EMObjects(
        np.where(pi0_sel, take(remainder.E, ip), 0), take(f_eta, ip), take(f_phi_calo, ip), t0_frag, pi0_sel
    )

    n_idx = 1 - SPECTRAL_INDEX["prompt"]
    j_idx = 1 - SPECTRAL_INDEX["jet"]
    weight_phys = np.where(signal, (pt / PT_REF_GEV) ** n_idx, (pt / PT_REF_GEV) ** j_idx).astype(F32)
    truth_type = np.select(
        [
            source == jets.PROMPT,
            source == jets.FRAGMENTATION,
            np.isin(source, (jets.HADRON,)) | (lead.hadron_E > 0),
        ],
        [TT_ISO_PHOTON, TT_NONISO_PHOTON, TT_HADRON],
        TT_BKG_PHOTON,
    ).astype(np.int32)
    truth_origin = np.select(
        [source == jets.PROMPT, source == jets.FRAGMENTATION, source == jets.PI0, source == jets.HADRON],
        [TO_PROMPT_PHOT, TO_FSR_PHOT, TO_PI0, TO_NONDEFINED],
        TO_LIGHT_MESON,
    ).astype(np.int32)
    return PhotonTruth(
        pt=pt.astype(F32),
        eta=eta,
        phi=phi,
        z_v=z_v,
        mu=mu,
        run=run,
        signal=signal,
        source=source.astype(np.int32),
        truth_type=truth_type,
        truth_origin=truth_origin,
        weight_phys=weight_phys,
        z_lead=z_lead.astype(F32),
        em=em,
        had=had,
        frag_em=frag_em,
        remainder=remainder,
        conv=conv,
        lead_slot=lead_slot,
        axis_phi=((had_phi0 + np.pi) % (2 * np.pi) - np.pi).astype(F32),
        lead=lead,
    )
