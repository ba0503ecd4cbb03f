"""Jet fakes of photon candidates: leading neutral mesons and the jet remainder (PHYSICS.md §1.6).

Everything is fixed-shape per block (§0 rule 5): every candidate draws the random numbers of
every source, and the decay kinematics run on the subsets of candidates of each source. The
candidate axis is the leading particle's direction; daughters and fragments are returned as
(Δη, Δφ) offsets from it. Source codes are the ``gen_source`` values of §2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betainc, betaincinv

from egml.sim import decays
from egml.sim.atlas.geometry import L2, transverse_radius
from egml.sim.atlas.material import bend_dphi, calo_radius_m

F32 = np.float32

# gen_source codes (§2) and default leading-source probabilities (§1.6 table [K])
PROMPT, FRAGMENTATION, PI0, ETA_GG, ETA_3PI0, OMEGA, HADRON, K0S = 0, 1, 10, 11, 12, 13, 14, 15
SOURCE_CODES = np.array([PI0, ETA_GG, ETA_3PI0, OMEGA, K0S, HADRON])
SOURCE_PROBS = np.array([0.70, 0.12, 0.06, 0.03, 0.02, 0.07])
K0S_MAX_RADIUS_MM = 1400.0  # a K0S decaying beyond 1.4 m reaches the calorimeter as a neutral hadron
MAX_PHOTONS = 6  # η → 3π0 → 6γ
MAX_FRAGMENTS = 24  # jet remainder slots (§1.6)

# jet remainder [K, §1.6, §8 knobs]
Z_BETA_A, Z_BETA_B, Z_MIN = 4.0, 1.5, 0.3  # PHYSICS.md §1.6 default (T1 tunes it, see photon.py)
MULT_A, MULT_B, MULT_P0 = 1.5, 1.2, 2.0  # N = 1 + Poisson(1.5 + 1.2 ln(1 + p_rem/2 GeV))
DIRICHLET_ALPHA = 0.6
SPECIES_PROBS = np.array([0.60, 0.10, 0.30])  # π±, K±/p, π0
CHARGED_PI, CHARGED_KP, NEUTRAL_PI0 = 0, 1, 2
THETA_J_COEF, THETA_J_MIN, THETA_J_MAX, SIGMA_MAX = 0.6, 0.02, 0.6, 0.6


@dataclass(frozen=True)
class JetKnobs:
    """§8 jet knobs [K]: z ~ Beta(a, b) (z > 0.3), multiplicity 1 + Poisson(m_a + m_b ln(1 + p_rem/2 GeV)),
    fragment spread θ_j = coef/√(p_jet/GeV)."""

    z_beta_a: float = Z_BETA_A
    z_beta_b: float = Z_BETA_B
    mult_a: float = MULT_A
    mult_b: float = MULT_B
    theta_j_coef: float = THETA_J_COEF


DEFAULT_JET_KNOBS = JetKnobs()


@dataclass
class LeadingParticle:
    """Decay products of the leading meson (or the leading hadron), offsets from the axis.

    photon_E/deta/dphi/mask: (N, 6); hadron_E (N,) with hadron_charged (N,) bool (0 if none);
    theta12, E1, E2: opening angle and energies of the leading photon pair (gen_ latents).
    """

    source: np.ndarray
    photon_E: np.ndarray
    photon_deta: np.ndarray
    photon_dphi: np.ndarray
    photon_mask: np.ndarray
    hadron_E: np.ndarray
    hadron_charged: np.ndarray
    hadron_dphi: np.ndarray
    theta12: np.ndarray
    E1: np.ndarray
    E2: np.ndarray


def choose_source(u: np.ndarray, probs: np.ndarray = SOURCE_PROBS) -> np.ndarray:
    """Leading-source code from a uniform draw (inverse CDF over the §1.6 table)."""
    cdf = np.cumsum(probs) / np.sum(probs)
    return SOURCE_CODES[np.minimum(np.searchsorted(cdf, u, side="right"), len(probs) - 1)]


def leading_particle(
    rng: np.random.Generator, pt: np.ndarray, eta: np.ndarray, source: np.ndarray
) -> LeadingParticle:
    """Decay the leading meson of each jet-fake candidate (§1.6); fixed-shape draws."""
    n = len(pt)
    cos_t = rng.uniform(-1, 1, (n, 4))
    psi = rng.uniform(0, 2 * np.pi, (n, 4))
    dalitz = rng.random((n, 4, 2))
    euler = rng.random((n, 3))
    u_radius = rng.random(n)
    charge = np.where(rng.random(n) < 0.5, -1.0, 1.0)

    p = np.asarray(pt, np.float64) * np.cosh(np.asarray(eta, np.float64))
    p4 = np.zeros((n, MAX_PHOTONS, 4))
    r_decay = -decays.CTAU_K0S_MM * p / decays.M_K0S / np.cosh(eta) * np.log(np.clip(u_radius, 1e-300, 1))
    k0s_late = (source == K0S) & (r_decay > K0S_MAX_RADIUS_MM)

    def pi0_pair(parent: np.ndarray, i: int, sel: np.ndarray) -> np.ndarray:
        g1, g2 = decays.two_body(parent, 0.0, 0.0, cos_t[sel, i], psi[sel, i])
        return np.stack([g1, g2], axis=1)

    for code, m in ((PI0, decays.M_PI0), (ETA_GG, decays.M_ETA)):
        sel = source == code
        p4[sel, :2] = pi0_pair(decays.parent_along_z(p[sel], m), 0, sel)
    sel = source == ETA_3PI0
    pions = decays.three_body_equal_mass(
        decays.parent_along_z(p[sel], decays.M_ETA), decays.M_PI0, dalitz[sel], euler[sel]
    )
    for j in range(3):
        p4[sel, 2 * j : 2 * j + 2] = pi0_pair(pions[:, j], j, sel)
    sel = source == OMEGA
    pi0, gamma = decays.two_body(
        decays.parent_along_z(p[sel], decays.M_OMEGA), decays.M_PI0, 0.0, cos_t[sel, 0], psi[sel, 0]
    )
    p4[sel, :2] = pi0_pair(pi0, 1, sel)
    p4[sel, 2] = gamma
    sel = (source == K0S) & ~k0s_late
    k1, k2 = decays.two_body(
        decays.parent_along_z(p[sel], decays.M_K0S), decays.M_PI0, decays.M_PI0, cos_t[sel, 0], psi[sel, 0]
    )
    p4[sel, :2] = pi0_pair(k1, 1, sel)
    p4[sel, 2:4] = pi0_pair(k2, 2, sel)

    E, deta, dphi = decays.angular_offsets(p4, eta)
    # a displaced K0S decay shrinks the offsets on the calorimeter face (decay radius R_d < r⊥)
    shrink = np.where(source == K0S, np.clip(1 - r_decay / transverse_radius(L2, eta), 0, 1), 1.0)[:, None]
    mask = E > 0
    hadron = (source == HADRON) | k0s_late
    hadron_charged = source == HADRON
    hadron_E = np.where(hadron, p, 0)
    safe_pt = np.where(hadron_charged, pt, 1.0)
    r_l = calo_radius_m(np.abs(eta), 1680.0, 3950.0)
    bend = np.where(hadron_charged, bend_dphi(np.zeros(n), r_l, safe_pt, charge, np.abs(eta)), 0)

    theta12 = _opening_angle(p4[:, 0], p4[:, 1])
    return LeadingParticle(
        source=source.astype(np.int32),
        photon_E=np.where(mask, E, 0).astype(F32),
        photon_deta=(deta * shrink).astype(F32),
        photon_dphi=(dphi * shrink).astype(F32),
        photon_mask=mask,
        hadron_E=hadron_E.astype(F32),
        hadron_charged=hadron_charged,
        hadron_dphi=bend.astype(F32),
        theta12=np.where(mask[:, 1], theta12, 0).astype(F32),
        E1=p4[:, 0, 0].astype(F32),
        E2=p4[:, 1, 0].astype(F32),
    )


def _opening_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a[:, 1:], axis=1)
    nb = np.linalg.norm(b[:, 1:], axis=1)
    c = (a[:, 1:] * b[:, 1:]).sum(1) / np.maximum(na * nb, 1e-300)
    return np.arccos(np.clip(c, -1, 1))


def leading_fraction_beta(u: np.ndarray, knobs: JetKnobs = DEFAULT_JET_KNOBS) -> np.ndarray:
    """z ~ Beta(4, 1.5) truncated to z > 0.3, by inverse CDF of a uniform u (§1.6)."""
    a, b = knobs.z_beta_a, knobs.z_beta_b
    f0 = betainc(a, b, Z_MIN)
    return betaincinv(a, b, f0 + (1 - f0) * np.asarray(u, np.float64)).astype(F32)


@dataclass
class JetRemainder:
    """Fragments of the jet remainder, (N, 24) with masks; offsets from the candidate axis.

    deta/dphi: direction at the vertex (tracks); dphi_calo adds the magnetic bend of charged ones.
    Padding slots (mask False) hold 0 in pt, E, deta, dphi and dphi_calo.
    """

    pt: np.ndarray
    E: np.ndarray
    deta: np.ndarray
    dphi: np.ndarray
    dphi_calo: np.ndarray
    species: np.ndarray
    charged: np.ndarray
    mask: np.ndarray


def jet_remainder(
    rng: np.random.Generator,
    pt_lead: np.ndarray,
    eta: np.ndarray,
    z: np.ndarray,
    active: np.ndarray,
    knobs: JetKnobs = DEFAULT_JET_KNOBS,
) -> JetRemainder:
    """Fragments sharing p_rem = p_T(1−z)/z (§1.6): multiplicity, Dirichlet(0.6) fractions,
    species, Rayleigh ΔR around the axis and the bend of charged fragments (R_c = 0).
    ``active`` (N,) switches the remainder on (jet fakes, fragmentation photons)."""
    n, k = len(pt_lead), MAX_FRAGMENTS
    u_mult = rng.random(n)
    gam = rng.standard_gamma(DIRICHLET_ALPHA, (n, k))
    u_species = rng.random((n, k))
    u_r = rng.random((n, k))
    psi = rng.uniform(0, 2 * np.pi, (n, k))
    u_charge = rng.random((n, k))

    z = np.asarray(z, np.float64)
    p_rem = np.asarray(pt_lead, np.float64) * (1 - z) / z
    lam = knobs.mult_a + knobs.mult_b * np.log1p(p_rem / MULT_P0)
    n_frag = np.minimum(1 + poisson_inverse(u_mult, lam), k)
    mask = (np.arange(k)[None, :] < n_frag[:, None]) & np.asarray(active)[:, None]
    g = np.where(mask, np.maximum(gam, 1e-12), 0)
    x = g / np.maximum(g.sum(1, keepdims=True), 1e-300)
    frag_pt = x * p_rem[:, None]

    p_jet = np.asarray(pt_lead, np.float64) / z
    theta_j = np.clip(knobs.theta_j_coef / np.sqrt(np.maximum(p_jet, 1e-6)), THETA_J_MIN, THETA_J_MAX)
    xbar = 1.0 / n_frag
    # the real fragments only (padding slots stay 0), as flat indices f of the (N, 24) slots
    f = np.flatnonzero(mask)
    row = f // k
    sigma = np.minimum(theta_j[row] / np.sqrt(np.maximum(x.ravel()[f] / xbar[row], 1e-12)), SIGMA_MAX)
    # Rayleigh(σ) offsets by inverse CDF
    dr = sigma * np.sqrt(-2 * np.log(np.clip(1 - u_r.ravel()[f], 1e-300, 1)))
    psi_f = psi.ravel()[f]
    deta, dphi = np.zeros((n, k)), np.zeros((n, k))
    deta_f = dr * np.cos(psi_f)
    deta.ravel()[f] = deta_f
    dphi.ravel()[f] = dr * np.sin(psi_f)

    # = min(searchsorted(cdf, u, "right"), 2): the number of the first two CDF steps ≤ u (faster
    # than a binary search on the (N, 24) slots)
    species = np.zeros((n, k), np.int64)
    for step in np.cumsum(SPECIES_PROBS)[:-1]:
        species += u_species >= step
    charged = mask & (species != NEUTRAL_PI0)
    eta = np.asarray(eta, np.float64)
    eta_f = eta[row] + deta_f
    # the magnetic bend only for the (few) charged fragments
    c = np.flatnonzero(charged)
    pt_c = frag_pt.ravel()[c]
    safe_pt = np.where(pt_c > 0, pt_c, 1.0)
    abs_eta_c = np.abs(eta[c // k] + deta.ravel()[c])
    r_l = calo_radius_m(abs_eta_c, 1680.0, 3950.0)
    charge = np.where(u_charge.ravel()[c] < 0.5, -1.0, 1.0)
    bend = np.zeros((n, k))
    bend.ravel()[c] = bend_dphi(np.zeros_like(safe_pt), r_l, safe_pt, charge, abs_eta_c)
    E = np.zeros((n, k), F32)
    E.ravel()[f] = frag_pt.ravel()[f] * np.cosh(eta_f)
    return JetRemainder(
        pt=np.where(mask, frag_pt, 0).astype(F32),
        E=E,
        deta=deta.astype(F32),
        dphi=dphi.astype(F32),
        dphi_calo=(dphi + bend).astype(F32),
        species=species.astype(np.int32),
        charged=charged,
        mask=mask,
    )


def poisson_inverse(u: np.ndarray, lam: np.ndarray, kmax: int = MAX_FRAGMENTS) -> np.ndarray:
    """Poisson(λ) from one uniform per candidate by inverse CDF, capped at kmax (fixed shape)."""
    lam = np.asarray(lam, np.float64)
    pmf = np.exp(-lam)
    cdf = pmf.copy()  # P(X ≤ k), built by the recursion pmf_k = pmf_(k−1)·λ/k
    count = (u > cdf).astype(np.int64)
    for k in range(1, kmax + 1):
        if k % 8 == 1 and not np.any(u > cdf):  # the CDF only grows: no count can change any more
            break
        pmf = pmf * lam / k
        cdf = cdf + pmf
        count += u > cdf
    return count


def fragmentation_fraction(et: np.ndarray) -> np.ndarray:
    """f_frag(E_T) = 0.25·(25 GeV/E_T)^0.5, capped at 0.3 (§1.6)."""
    return np.minimum(0.25 * np.sqrt(25.0 / np.maximum(np.asarray(et, np.float64), 1e-6)), 0.3)
