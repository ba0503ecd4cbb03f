"""Expected deposits of EM objects and hadrons in per-candidate layer windows (PHYSICS.md §1.4–§1.6).

EM objects: GFlash longitudinal fractions per layer (PS active slice, L1, L2, L3, leakage into
the first hadronic layer), τ per layer, lateral two-component profile with the exact corner
integral (erf for soft objects). Hadrons (§1.6): first interaction t_int ~ Exp(λ), EM
sub-shower f_em ~ Beta(2, 3) (returned as EM objects), a broad hadronic deposit at h/e = 0.75
and a MIP trace for charged hadrons before t_int; hadronic deposits use the erf integral.

Each deposit function returns, per layer, a list of flat ``Sources`` (impact, energy, lateral
shape) that does not depend on any window; ``layer_expected`` integrates them over a layer
window. So windows can be placed after other layers were measured (T1: L1, L3, PS and the
hadronic cells around the reconstructed L2 maximum). Draws are made on the padded (N, K) shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.special import gammainc, gammaincinv

from egml.sim import shower
from egml.sim.atlas import geometry as geo
from egml.sim.atlas import material
from egml.sim.atlas.conversions import l2_radius, layer_phi
from egml.sim.atlas.knobs import CaloKnobs
from egml.sim.atlas.objects import EMObjects, HadronObjects
from egml.sim.kernels import LANES, exact_corner_sum, finish_cells, gauss_erf_args, gauss_scatter, near_window

F32 = np.float32

# --- soft-object rule (§0 performance) ---------------------------------------------------------
SOFT_E_MIN = 0.2  # GeV
SOFT_E_FRACTION = 0.005  # of the candidate's energy
WINDOW_MARGIN_RADII = 3.0  # objects are integrated if within the window + 3·R_T (or 3σ)

# --- hadrons (§1.6 [K]) ---------------------------------------------------------------------------
EM_CALO_DEPTH_LAMBDA = 1.2  # the EM calorimeter is about 1.2 λ deep
HAD_LAYER_LAMBDA = (1.5, 4.1, 1.8)  # Tile A / BC / D thickness in λ (§1.5)
MIP_EM_SCALE_GEV = 0.25  # MIP deposit across the EM calorimeter
H_OVER_E = 0.75
F_EM_BETA = (2.0, 3.0)
HAD_SIGMA = 0.06  # lateral Gaussian σ of the broad deposit, (η, φ) units
MIP_SIGMA = 0.01  # [K] lateral width of the MIP trace (a few mm)
# Departure from §1.6: the broad deposit follows a Gamma(k=2, θ=1 λ) in depth after t_int (shower
# maximum 1 λ after the interaction) rather than a pure exponential, so that, as §1.6 requires,
# most of it lands in L3 and the hadronic layers rather than in L2.
HAD_LONG_SHAPE = 2.0


@dataclass
class Sources:
    """Flat deposits of one layer: candidate index, impact (η_L, φ), energy (GeV) and lateral shape.

    lateral = (R_C, R_T, p) selects the exact two-component integral, except where ``soft`` is
    True (Gaussian stand-in of width ``sigma``, §0); lateral = None means Gaussian for all.
    margin: objects are integrated only if within the window ± margin ((η, φ) units).
    """

    cand: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray
    sigma: np.ndarray
    margin: np.ndarray | float
    lateral: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    soft: np.ndarray | None = None


LayerSources = dict[int, list[Sources]]


def _wrap(x: np.ndarray) -> np.ndarray:
    return (x + F32(np.pi)) % F32(2 * np.pi) - F32(np.pi)


def _near_window(
    grid: geo.LayerGrid, cand: np.ndarray, eta_L: np.ndarray, phi: np.ndarray, margin: np.ndarray | float
) -> np.ndarray:
    """(M,) True where flat objects (eta_L, phi) of candidates ``cand`` lie within the window ± margin."""
    lo, hi = grid.eta_edges[cand, 0], grid.eta_edges[cand, -1]
    p0, p1 = grid.phi_edges[cand, 0], grid.phi_edges[cand, -1]
    pc, ph = F32(0.5) * (p0 + p1), F32(0.5) * (p1 - p0)
    return (eta_L > lo - margin) & (eta_L < hi + margin) & (np.abs(_wrap(phi - pc)) < ph + margin)


def _near(grid: geo.LayerGrid, s: Sources, eta_edges: np.ndarray, phi_edges: np.ndarray) -> np.ndarray:
    """(M,) sources of positive energy within the window ± margin: one fused float32 pass
    (``kernels.near_window``) when every input is float32, else the NumPy expression."""
    margin = np.atleast_1d(s.margin)
    if all(a.dtype == F32 for a in (s.eta, s.phi, s.energy, margin, grid.eta_edges, grid.phi_edges)):
        return near_window(
            s.cand.astype(np.int64, copy=False), s.eta, s.phi, s.energy, margin, eta_edges, phi_edges
        )
    return (s.energy > 0) & _near_window(grid, s.cand, s.eta, s.phi, s.margin)


def _existence_runs(layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(first η edge, exists) of each run of equal cells in ``layer``'s cell table."""
    edges, exists = geo.ETA_EDGES[layer], geo.CELL_EXISTS[layer]
    first = np.flatnonzero(np.concatenate([[True], exists[1:] != exists[:-1]]))
    return edges[first], exists[first]


_EXIST_RUNS = {layer: _existence_runs(layer) for layer in geo.ETA_EDGES}


def _exists_at(layer: int, eta_L: np.ndarray) -> np.ndarray:
    """Whether the cell of ``layer`` at η_L exists (the first/last cell beyond the table's ends).

    = exists[clip(searchsorted(edges, η_L, "right") − 1)], searched among the few edges where
    the existence changes (the first edge of each run of equal cells) instead of every edge.
    """
    starts, run_exists = _EXIST_RUNS[layer]
    i = np.clip(np.searchsorted(starts, eta_L.astype(np.float64), side="right") - 1, 0, len(starts) - 1)
    return run_exists[i]


def _padded_corners(n_outer: int, n_inner: int) -> int:
    """Corners evaluated by ``exact_corner_sum`` for a window of n_outer × n_inner cells."""
    return (n_outer + 1) * -(-(n_inner + 1) // LANES) * LANES


def layer_expected(grid: geo.LayerGrid, sources: list[Sources], n: int) -> np.ndarray:
    """Expected deposits λ (N, nη, nφ) float32 of the sources in one layer window (§1.4).

    G and the erf products are linear in the energies and every object of a candidate uses the
    candidate's window, so the corner grids are summed per candidate (in the order of the flat
    objects) and differenced once (§0: scatter-add on flat arrays); the fused loops are in
    ``egml.sim.kernels``.
    """
    ne, nph = grid.shape
    # float32 sums of the corner grids: their rounding (~1e-7 of the candidate's energy per cell,
    # the §1.4 float32 figure) is far below the cell noise. G(X, Y) = G(Y, X), so the kernel may
    # run in either orientation with the same corner values: its inner (vectorised) loop is padded
    # to whole vectors of 8, and the orientation with fewer padded corners is taken (L1 61 × 3
    # corners as (φ, η), L2 8 × 12 as (φ, η): 12 × 8). ``finish`` is the layout whose order of the
    # corner differences defines the result (the longer axis last); acc is transposed to it if needed.
    finish = ne > nph
    eta_inner, phi_inner = _padded_corners(nph, ne), _padded_corners(ne, nph)
    swap = eta_inner < phi_inner or (eta_inner == phi_inner and finish)
    eta_edges = np.ascontiguousarray(grid.eta_edges, dtype=F32)
    phi_edges = np.ascontiguousarray(grid.phi_edges, dtype=F32)
    acc = np.zeros((n, nph + 1, ne + 1) if swap else (n, ne + 1, nph + 1), F32)  # exact: corners
    acc_g = np.zeros((n, ne, nph), F32)  # Gaussian: cell integrals

    def flat(s: Sources, sel: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
        cand = np.ascontiguousarray(s.cand[sel], dtype=np.int64)
        return [cand, *(np.ascontiguousarray(a[sel], dtype=F32) for a in (s.eta, s.phi, s.energy, *arrays))]

    gauss: list[list[np.ndarray]] = []
    for s in sources:
        near = _near(grid, s, eta_edges, phi_edges)
        ga = np.flatnonzero(near if s.soft is None or s.lateral is None else near & s.soft)
        if s.lateral is not None:
            ex = np.flatnonzero(near & ~s.soft) if s.soft is not None else np.flatnonzero(near)
            if len(ex):
                cand, eta, phi, E, R_C, R_T, p = flat(s, ex, *s.lateral)
                if swap:
                    exact_corner_sum(cand, phi, eta, E, R_C, R_T, p, phi_edges, eta_edges, True, False, acc)
                else:
                    exact_corner_sum(cand, eta, phi, E, R_C, R_T, p, eta_edges, phi_edges, False, True, acc)
        if (s.lateral is None or s.soft is not None) and len(ga):
            gauss.append(flat(s, ga, s.sigma))
    if gauss:  # all Gaussian objects at once: one batched float64 erf per axis, in source order
        # = outer_scatter(cand, *shower.gauss_axis_factors(x, y, sigma, E), acc_g) on the relative
        # edges x, y, with the arguments and the scatter fused around torch's float64 erf
        cand, eta, phi, E, sigma = (np.concatenate(a) for a in zip(*gauss, strict=True))
        s_erf = (np.maximum(sigma, F32(1e-6)) * np.sqrt(2)).astype(np.float64)
        x, y = gauss_erf_args(cand, eta, phi, s_erf, eta_edges, phi_edges)
        cx, cy = (torch.special.erf(torch.from_numpy(a)).numpy() for a in (x, y))
        gauss_scatter(cand, cx, cy, 0.25 * E.astype(np.float64), acc_g)
    if swap != finish:
        acc = np.ascontiguousarray(acc.transpose(0, 2, 1))
    return finish_cells(acc, acc_g, finish)


@dataclass
class EMDeposits:
    sources: LayerSources
    layer_total: dict[int, np.ndarray]  # (N,) Σ E·F_L over objects whose impact cell exists
    E_up: np.ndarray
    E_PS_dep: np.ndarray
    E_PS_L1_dead: np.ndarray
    E_leak_long: np.ndarray


def _l2_midpoint(alpha, beta, t0, b1, b2, P1, P2):
    """Equal-energy split depth of L2 (``l2_subslices = 2``), from P(α) at its two ends."""
    mid = t0 + gammaincinv(alpha.astype(np.float64), 0.5 * (P1 + P2)) / beta
    return np.clip(np.where(P2 - P1 > shower.DP_MIN, mid, 0.5 * (b1 + b2)), b1, b2).astype(F32)


def _per_candidate(cand: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(cand, weights=values, minlength=n).astype(F32)


def em_layer_deposits(
    em: EMObjects,
    z_v: np.ndarray,
    rng: np.random.Generator,
    knobs: CaloKnobs,
) -> EMDeposits:
    """Longitudinal + lateral deposits of EM objects in PS, L1–L3 and (leakage) the first hadronic layer.

    The GFlash draws are made on the padded (N, K) shape (§0 rule 5); everything else runs on
    the flat list of real objects. P(α, ·) and P(α+1, ·) are evaluated once per object at each
    distinct depth boundary (PS, accordion front, L1/L2, L2/L3, back).
    """
    n, k = em.E.shape
    r1, r2 = rng.standard_normal((2, n, k), dtype=F32)
    cand, slot = np.nonzero(em.mask)
    E, eta, phi, t0 = em.E[cand, slot], em.eta[cand, slot], em.phi[cand, slot], em.t0[cand, slot]
    bend = None if em.bend is None else em.bend[cand, slot]  # conversion legs: Δφ at each R_L (§1.3)
    zv = z_v[cand]
    abs_eta = np.abs(eta)
    R_M, Ec, Z = geo.medium_arrays(abs_eta)
    R_M = R_M * F32(knobs.moliere_scale)
    alpha, beta, _ = shower.longitudinal_params(
        E, Z, Ec, r1[cand, slot], r2[cand, slot], knobs.k_T_long, knobs.k_alpha_long
    )
    x_up = material.X_up(abs_eta, knobs.mat_scale)
    x_ps = x_up - F32(material.PS_TO_ACCORDION)
    d_ps = geo.presampler_depth(abs_eta)
    bounds = geo.depth_boundaries(abs_eta, x_up)
    E_cand = np.bincount(cand, weights=E, minlength=n).astype(F32)[cand]
    soft = E < np.maximum(F32(SOFT_E_MIN), F32(SOFT_E_FRACTION) * E_cand)
    widen = 1 + F32(knobs.kappa_pre) * np.maximum(x_up - t0, 0) / x_up  # upstream start, PS and L1

    # P(α, ·), P(α+1, ·) at PS front, PS back, X_up = accordion front, L1/L2, L2/L3, back
    depths = np.stack([x_ps, x_ps + d_ps, bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3]])
    P, P1 = shower.gamma_cdf_pair(alpha, beta, t0, depths)
    at = [(P[i], P1[i]) for i in range(len(depths))]
    F_ps, tau_ps = shower.interval_fraction(alpha, at[0], at[1])
    P_up, P_ps_end, P_end = P[2].astype(F32), P[1].astype(F32), P[5].astype(F32)
    sh = np.sinh(np.asarray(eta, dtype=F32))  # shared by the impact points of every layer
    ps_exists = _exists_at(geo.PS, geo.impact_eta(eta, zv, geo.PS, sh))
    E_PS_dep = E * F_ps * ps_exists

    slices = [(geo.PS, F_ps * ps_exists, tau_ps), (geo.L1, *shower.interval_fraction(alpha, at[2], at[3]))]
    if knobs.l2_subslices == 1:
        slices.append((geo.L2, *shower.interval_fraction(alpha, at[3], at[4])))
    else:
        mid = _l2_midpoint(alpha, beta, t0, bounds[:, 1], bounds[:, 2], P[3], P[4])
        at_mid = shower.gamma_cdf_pair(alpha, beta, t0, mid)
        slices.append((geo.L2, *shower.interval_fraction(alpha, at[3], at_mid)))
        slices.append((geo.L2, *shower.interval_fraction(alpha, at_mid, at[4])))
    slices.append((geo.L3, *shower.interval_fraction(alpha, at[4], at[5])))

    sources: LayerSources = {layer: [] for layer in geo.ALL_LAYERS}
    layer_total = {layer: np.zeros(n, F32) for layer in geo.EM_LAYERS}
    missing = np.zeros(len(E), F32)
    sigma_l3 = np.full(len(E), F32(0.05))
    eta_at: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    r2 = None if bend is None else l2_radius(abs_eta)
    for layer, F, tau in slices:
        if layer not in eta_at:  # L2 comes twice with l2_subslices = 2
            eta_L = geo.impact_eta(eta, zv, layer, sh)
            eta_at[layer] = (eta_L, geo.transverse_radius(layer, eta_L))
        eta_L, r_perp = eta_at[layer]
        R_C, R_T, p = shower.lateral_params(E, tau, Z)
        scale = R_M / r_perp * (widen if layer in (geo.PS, geo.L1) else F32(1))
        R_C = R_C * scale * F32(knobs.k_C[layer])
        R_T = R_T * scale * F32(knobs.k_T[layer])
        dep = E * F
        exists = _exists_at(layer, eta_L)
        if layer != geo.PS:
            missing += np.where(exists, 0, dep)
        layer_total[layer] += _per_candidate(cand, np.where(exists, dep, 0), n)
        sigma = shower.soft_sigma(R_C, R_T, p)
        if layer == geo.L3:
            sigma_l3 = sigma
        margin = F32(WINDOW_MARGIN_RADII) * np.maximum(R_T, sigma)
        phi_L = phi if bend is None else layer_phi(phi, bend, abs_eta, layer, r2)
        sources[layer].append(Sources(cand, eta_L, phi_L, dep, sigma, margin, (R_C, R_T, p), soft))

    # longitudinal leakage behind the accordion lands in the first hadronic layer (§1.5)
    leak = E * (1 - P_end)
    eta_h = geo.impact_eta(eta, zv, geo.HAD1, sh)
    sources[geo.HAD1].append(Sources(cand, eta_h, phi, leak, sigma_l3, F32(WINDOW_MARGIN_RADII) * sigma_l3))

    return EMDeposits(
        sources=sources,
        layer_total=layer_total,
        E_up=_per_candidate(cand, E * P_up, n) - _per_candidate(cand, E_PS_dep, n),
        E_PS_dep=_per_candidate(cand, E_PS_dep, n),
        E_PS_L1_dead=_per_candidate(cand, E * np.maximum(P_up - P_ps_end, 0), n),
        E_leak_long=_per_candidate(cand, leak + missing, n),
    )


@dataclass
class HadronDeposits:
    sources: LayerSources
    em_subshowers: EMObjects
    E_dep_total: np.ndarray = field(default_factory=lambda: np.zeros(0, F32))


def hadron_deposits(
    had: HadronObjects,
    z_v: np.ndarray,
    rng: np.random.Generator,
    knobs: CaloKnobs,
) -> HadronDeposits:
    """§1.6 hadron model. The EM sub-showers (t_int inside the EM calorimeter) are returned as EM
    objects starting at t0 = X_up + t_int·λ; the broad deposit (h/e = 0.75) and MIP trace are
    spread with erf integrals. Hadrons interacting in the hadronic calorimeter deposit their whole
    energy there at scale f_em + (1 − f_em)·h/e.
    """
    n, k = had.E.shape
    u_int = rng.random((n, k), dtype=F32)
    t_int = -np.log(np.maximum(u_int, F32(1e-30)))  # λ, from the accordion front
    f_em = rng.beta(*F_EM_BETA, size=(n, k)).astype(F32)
    E = np.where(had.mask, had.E, 0).astype(F32)
    in_em = t_int < EM_CALO_DEPTH_LAMBDA
    broad = np.where(in_em, (1 - f_em) * F32(H_OVER_E), f_em + (1 - f_em) * F32(H_OVER_E)) * E

    # flat real hadrons from here on (draws above stay on the padded shape; padding slots of the
    # sub-showers keep t0 = 0, they are masked)
    cand, slot = np.nonzero(had.mask)
    zv = z_v[cand]
    h_eta, h_phi, h_broad, h_t = (
        had.eta[cand, slot],
        had.phi[cand, slot],
        broad[cand, slot],
        t_int[cand, slot],
    )
    abs_eta = np.abs(h_eta)
    x_up = material.X_up(abs_eta, knobs.mat_scale)
    bounds = geo.depth_boundaries(abs_eta, x_up)
    lam_x0 = (bounds[..., 3] - bounds[..., 0]) / F32(EM_CALO_DEPTH_LAMBDA)  # X0 per λ at this |η|
    t0 = np.zeros((n, k), np.result_type(x_up, t_int, lam_x0))
    t0[cand, slot] = x_up + h_t * lam_x0
    sub = EMObjects(np.where(in_em, f_em * E, 0), had.eta, had.phi, t0, had.mask & in_em)

    # depth boundaries in λ: L1, L2, L3 (from the accordion front), then the hadronic layers
    lam_b = (bounds - bounds[..., :1]) / lam_x0[..., None]
    had_edges = EM_CALO_DEPTH_LAMBDA + np.cumsum((0.0, *HAD_LAYER_LAMBDA))
    edges = [lam_b[..., 0], lam_b[..., 1], lam_b[..., 2], lam_b[..., 3]]
    edges += [F32(e) for e in had_edges]
    # layer → its first boundary in ``edges`` (the EM end and the hadronic start are separate entries)
    first = (0, 1, 2, *range(4, 4 + len(geo.HAD_LAYERS)))
    intervals = [(layer, i, i + 1) for layer, i in zip((geo.L1, geo.L2, geo.L3, *geo.HAD_LAYERS), first)]
    # P(2, ·) once per distinct boundary (adjacent layers share theirs)
    P_edge = [gammainc(F32(HAD_LONG_SHAPE), np.maximum(e - h_t, 0)) for e in edges]
    charged = had.charged[cand, slot]
    sh_h = np.sinh(np.asarray(h_eta, dtype=F32))
    sources: LayerSources = {layer: [] for layer in geo.ALL_LAYERS}
    total = np.zeros(len(cand), np.float64)
    mip_depth = np.minimum(h_t, F32(EM_CALO_DEPTH_LAMBDA))
    sig_had = np.full(len(cand), F32(HAD_SIGMA))
    sig_mip = np.full(len(cand), F32(MIP_SIGMA))
    for layer, ia, ib in intervals:
        a, b = edges[ia], edges[ib]
        frac = P_edge[ib] - P_edge[ia]
        dep = (h_broad * frac).astype(F32)
        eta_L = geo.impact_eta(h_eta, zv, layer, sh_h)
        sources[layer].append(Sources(cand, eta_L, h_phi, dep, sig_had, F32(WINDOW_MARGIN_RADII * HAD_SIGMA)))
        total += dep
        if layer in (geo.L1, geo.L2, geo.L3):
            # MIP ionisation ∝ path length in the layer up to the first interaction
            overlap = np.clip(np.minimum(b, mip_depth) - a, 0, None)
            mip = np.where(charged, F32(MIP_EM_SCALE_GEV / EM_CALO_DEPTH_LAMBDA) * overlap, 0).astype(F32)
            sources[layer].append(
                Sources(cand, eta_L, h_phi, mip, sig_mip, F32(WINDOW_MARGIN_RADII * MIP_SIGMA))
            )
            total += mip
    return HadronDeposits(sources, sub, np.bincount(cand, weights=total, minlength=n).astype(F32))
