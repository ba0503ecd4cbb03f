"""T4 ``CaloCalib`` generator: e±, unconverted and converted γ as calorimeter cell sets (PHYSICS.md §5).

Per RNG block (fixed-shape draws, §0 rule 5): kinematics (log-uniform E_T over
[0.8·5, 1.25·1000] GeV, |η| < 2.47 without the crack, μ ~ Gamma(k = 8, ⟨μ⟩ = 51)), EM objects
(:mod:`egml.sim.calib_objects`), the ATLAS calorimeter on a fixed generation window of
|Δη| < 0.3, |Δφ| < 0.4 around the impact (PS, L1–L3 and TileGap3), 4-2-0 topo-clustering and
superclustering (:mod:`egml.sim.atlas.topo`), the cell set and cluster variables
(:mod:`egml.sim.calib_cells`), the latents and the oracle resolution (:mod:`egml.sim.oracle`).
Candidates are kept if their cluster exists and E_T,cl ∈ [5, 1000] GeV (§0 rule 2).

``particleType`` is 0 for e±, and for photons the *reconstructed* type (2 if a conversion vertex
was reconstructed, else 1), as the ATLAS calibration picks its BDT by the reconstructed type.

Definitions and departures (documented choices where PHYSICS.md is silent):

- ``cell_eta``/``cell_phi`` are detector coordinates of the cell centres; Δη, Δφ to the cluster
  are formed by the reader. ``cl_etaCalo``/``cl_phiCalo`` are the max(E, 0)-weighted L2
  barycentre; ``cl_eta`` is it corrected to the primary vertex z_v (known to ≪ 1 mm).
- e± superclusters add secondary clusters matched to the track; the track is taken at its true
  direction and bending (track resolution ≪ the 0.05 × 0.1 match window).
- ``gen_Enoise`` / ``gen_Epu`` are the electronic / pileup noise summed over the cluster cells;
  ``gen_Eleak_lat`` is the true accordion (L1–L3) deposit outside the cluster's cells.
- TileGap3 uses the [K] model of :mod:`egml.sim.atlas.tilegap`; the fixed 3×7 / 5×5 window
  option of §5 is not implemented. T4 samples are unweighted (weight_phys = weight_kin = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import poisson

from egml.sim.atlas import geometry as geo
from egml.sim.atlas import tilegap as tg3
from egml.sim.atlas.calorimeter import GridSpec, simulate_calorimeter
from egml.sim.atlas.knobs import CaloKnobs
from egml.sim.atlas.response import DetectorInstance
from egml.sim.atlas.topo import TopoLayer, supercluster_mask, topo_cluster_labels
from egml.sim.base import BLOCK_SIZE, Columns, GenConfig
from egml.sim.calib_cells import TILEGAP3, WindowLayer, cluster_columns
from egml.sim.calib_objects import ELECTRON, UNCONVERTED, conversion_branches, t4_objects
from egml.sim.oracle import OracleCells, oracle_resolution

F32 = np.float32
ET_MIN, ET_MAX = 5.0, 1000.0  # GeV, kept E_T,cl window (§5)
GEN_ET_LO, GEN_ET_HI = 0.8, 1.25  # truth E_T generated in [0.8 p_min, 1.25 p_max] (§0 rule 2)
ETA_MAX = 2.47  # §1.1 (T4)
CRACK = (1.37, 1.52)  # excluded |η| (§1.1)
MU_MEAN, MU_SHAPE = 51.0, 8.0  # Run-3-like pileup (§1.1 [S:R3])
Z_VERTEX_SIGMA = 35.0  # mm (§1.1)
WINDOW_DETA, WINDOW_DPHI = 0.3, 0.4  # generation window around the impact (§5)
RHO_UE, RHO_PU, RHO_SPREAD = 0.6, 0.20, 0.1  # ρ = (0.6 + 0.20 μ)(1 + 0.1 N) GeV per unit area (§1.7)
NPV_SLOPE = 0.6  # n_PV ~ Poisson(0.6 μ + 1) (§6)
TG3_SEL_DPHI = 0.1  # TileGap3 cells within this |Δφ| of the cluster join it [K]
RUN_NUMBER = 410000  # [K] a Run-3-like MC run number
MCID_BASE = 999400  # [K] sample IDs 999400 + particleType
L1_GRID_ETA_MAX = 1.98  # the 193-strip L1 window is centred at |η| ≤ 1.98 so that it fits the table
# window sizes (n_η, n_φ) in native cells covering |Δη| < 0.3, |Δφ| < 0.4; hadronic layers unused
WINDOW_SIZES = {geo.PS: (25, 9), geo.L1: (193, 9), geo.L2: (25, 33), geo.L3: (13, 33)}
WINDOW_SIZES.update({h: (1, 1) for h in geo.HAD_LAYERS})
TG3_N_PHI = 9


@dataclass
class T4Kinematics:
    """Truth of N T4 particles, all (N,)."""

    is_electron: np.ndarray  # bool
    E: np.ndarray  # GeV
    eta: np.ndarray
    phi: np.ndarray
    q: np.ndarray  # ±1 (e±), 0 (γ)
    z_v: np.ndarray  # mm
    mu: np.ndarray


def draw_kinematics(
    rng: np.random.Generator,
    n: int,
    electron_fraction: float = 1 / 3,
    mu_mean: float = MU_MEAN,
    mu_offset: float = 0.0,
    et_range: tuple[float, float] = (GEN_ET_LO * ET_MIN, GEN_ET_HI * ET_MAX),
    abs_eta_range: tuple[float, float] = (0.0, ETA_MAX),
) -> T4Kinematics:
    """Fixed-shape draws of species, E_T (log-uniform), |η| (uniform, crack removed), φ, z_v, μ."""
    if not 0 <= electron_fraction <= 1:
        raise ValueError(f"electron_fraction must be in [0, 1], got {electron_fraction}")
    lo, hi = abs_eta_range
    if not 0 <= lo < hi <= ETA_MAX:
        raise ValueError(f"abs_eta_range must satisfy 0 ≤ lo < hi ≤ {ETA_MAX}, got {abs_eta_range}")
    if not 0 < et_range[0] <= et_range[1]:
        raise ValueError(f"et_range must be positive and increasing (GeV), got {et_range}")
    u = rng.random((n, 6))
    g = rng.standard_normal(n)
    gam = rng.standard_gamma(MU_SHAPE, n)
    # |η| uniform over [lo, hi] minus the crack: map a uniform over the allowed length
    c_lo, c_hi = np.clip(CRACK, lo, hi)
    length = (hi - lo) - (c_hi - c_lo)
    t = lo + u[:, 0] * length
    abs_eta = np.where(t < c_lo, t, t + (c_hi - c_lo))
    eta = np.where(u[:, 1] < 0.5, -abs_eta, abs_eta)
    et = et_range[0] * (et_range[1] / et_range[0]) ** u[:, 2]
    is_e = u[:, 3] < electron_fraction
    return T4Kinematics(
        is_electron=is_e,
        E=(et * np.cosh(eta)).astype(F32),
        eta=eta.astype(F32),
        phi=(-np.pi + 2 * np.pi * u[:, 4]).astype(F32),
        q=np.where(is_e, np.where(u[:, 5] < 0.5, -1, 1), 0).astype(np.int32),
        z_v=(Z_VERTEX_SIGMA * g).astype(F32),
        mu=(gam * (mu_mean / MU_SHAPE) + mu_offset).astype(F32),
    )


def _unwrap(edges: np.ndarray, axis_phi: np.ndarray) -> np.ndarray:
    """φ edges relative to the axis, continuous (the first edge wrapped once)."""
    first = (edges[:, :1] - axis_phi[:, None] + np.pi) % (2 * np.pi) - np.pi
    return (first + (edges - edges[:, :1])).astype(F32)


class CaloCalibGenerator:
    """T4 generator (task ``energy_regression``, tree ``CaloCalib``), see the module docstring.

    Knobs read from ``config.knobs`` besides the calorimeter's (§8): ``t4_electron_fraction``
    (1/3), ``t4_mu_mean`` (51).
    """

    task = "energy_regression"
    task_id = 4
    version = "1.1-t4.2"  # t4.2: numba corner kernels, legs bent per layer; part of the cache key
    tree = "CaloCalib"
    jagged_counters = {"cell": "ncells"}

    def __init__(self, config: GenConfig | None = None) -> None:
        self.config = config or GenConfig()
        self.knobs = CaloKnobs.from_gen_config(self.config)
        self.detector = DetectorInstance.from_seed(self.config.detector_seed)
        self.electron_fraction = float(self.config.knobs.get("t4_electron_fraction", 1 / 3))
        self.mu_mean = float(self.config.knobs.get("t4_mu_mean", MU_MEAN))
        self.grid = GridSpec({**WINDOW_SIZES})

    # -- driver contract ---------------------------------------------------------------------
    def generate_block(self, rng: np.random.Generator, n: int = BLOCK_SIZE) -> Columns:
        kin = draw_kinematics(rng, n, self.electron_fraction, self.mu_mean, self.knobs.mu_offset)
        cols = self.simulate(kin, rng)
        keep = cols.pop("_accept")
        return {k: v[keep] for k, v in cols.items()}

    # -- the simulation ----------------------------------------------------------------------
    def _grids(self, eta: np.ndarray, phi: np.ndarray, z_v: np.ndarray) -> dict[int, geo.LayerGrid]:
        grids = {}
        for layer, (ne, nph) in self.grid.sizes.items():
            centre = geo.impact_eta(eta, z_v, layer)
            if layer == geo.L1:
                centre = np.clip(centre, -L1_GRID_ETA_MAX, L1_GRID_ETA_MAX)
            grids[layer] = geo.make_grid(layer, centre, phi, ne, nph)
        return grids

    def _window_layers(
        self, calo: Any, kin: T4Kinematics, axis_phi: np.ndarray, rng: np.random.Generator
    ) -> list[WindowLayer]:
        layers = []
        dead = ([], [], [])
        for layer in geo.EM_LAYERS:
            c = calo[layer]
            impact = geo.impact_eta(kin.eta, kin.z_v, layer)
            eta_c = c.grid.eta_centres
            dphi = (c.grid.phi_centres - axis_phi[:, None] + np.pi) % (2 * np.pi) - np.pi
            inside = (np.abs(eta_c - impact[:, None]) < WINDOW_DETA)[:, :, None] & (
                np.abs(dphi) < WINDOW_DPHI
            )[:, None, :]
            layers.append(
                WindowLayer(layer, layer, c.energy, c.expected, c.noise_el, c.noise_pu, c.noise_sigma,
                            c.calibration, c.sampling_a, c.exists & inside, c.eta_edges, c.phi_edges)
            )  # fmt: skip
            if layer != geo.PS:
                dead[0].append(np.where(~c.exists & inside, c.expected, 0))
                dead[1].append(eta_c)
                dead[2].append(0.5 * (c.phi_edges[:, 1:] + c.phi_edges[:, :-1]))
        eta_e, phi_e = tg3.tilegap_grid(kin.eta, axis_phi, TG3_N_PHI)
        lam = tg3.dead_deposits(*dead, eta_e, phi_e)
        centre_eta = 0.5 * (eta_e[:, 1:] + eta_e[:, :-1])
        impact = geo.impact_eta(kin.eta, kin.z_v, geo.HAD1)
        exists = np.broadcast_to((np.abs(centre_eta - impact[:, None]) < WINDOW_DETA)[:, :, None], lam.shape)
        energy, n_el, n_pu, sigma = tg3.tilegap_response(lam, exists, kin.mu, rng, self.knobs.noise_scale)
        ones = np.ones(lam.shape, F32)
        layers.append(
            WindowLayer(TILEGAP3, tg3.TILEGAP_GEOMETRY_LAYER, energy, lam, n_el, n_pu, sigma, ones,
                        ones * F32(tg3.A_TG3), exists.copy(), eta_e, phi_e)
        )  # fmt: skip
        return layers

    def simulate(self, kin: T4Kinematics, rng: np.random.Generator) -> Columns:
        """All columns for the N particles of ``kin`` plus a bool ``_accept`` (cluster found, E_T,cl window)."""
        return self.simulate_with_window(kin, rng)[0]

    def simulate_with_window(
        self, kin: T4Kinematics, rng: np.random.Generator
    ) -> tuple[Columns, list[WindowLayer]]:
        """``simulate`` plus the generation-window cells (PS, L1, L2, L3, TileGap3) for diagnostics."""
        n = kin.E.shape[0]
        obj = t4_objects(kin.is_electron, kin.E, kin.eta, kin.phi, kin.q, rng, self.knobs.mat_scale)
        grids = self._grids(kin.eta, obj.axis_phi, kin.z_v)
        calo = simulate_calorimeter(
            obj.em, None, kin.eta, obj.axis_phi, kin.z_v, kin.mu, rng, self.detector, grids, self.knobs
        )
        win = self._window_layers(calo, kin, obj.axis_phi, rng)
        u_npv = rng.random(n)
        g_rho = rng.standard_normal(n)
        event_no = rng.integers(0, 2**62, size=n, dtype=np.int64)

        # topo-clustering of the EM layers on φ relative to the axis
        topo = [
            TopoLayer(w.energy, np.where(w.exists, np.abs(w.energy) / np.where(w.sigma > 0, w.sigma, 1), 0).astype(F32),
                      w.exists, w.eta_edges, _unwrap(w.phi_edges, obj.axis_phi))
            for w in win[:4]
        ]  # fmt: skip
        impact_l2 = geo.impact_eta(kin.eta, kin.z_v, geo.L2)
        labels, has_seed = topo_cluster_labels(topo, impact_l2, np.zeros(n, F32))
        lo, hi = obj.track_phi_range
        rel = lambda p: ((p - obj.axis_phi + np.pi) % (2 * np.pi) - np.pi).astype(F32)  # noqa: E731
        track_eta = np.where(kin.is_electron, impact_l2, np.nan).astype(F32)
        masks, seed_eta, seed_phi = supercluster_mask(topo, labels, track_eta, (rel(lo), rel(hi)))
        tg3_phi = 0.5 * (win[4].phi_edges[:, 1:] + win[4].phi_edges[:, :-1])
        tg3_dphi = np.abs(_unwrap(tg3_phi, obj.axis_phi) - seed_phi[:, None])
        tg3_on = (np.abs(seed_eta) > 1.4) & (np.abs(seed_eta) < 1.6)
        masks.append(
            np.broadcast_to((tg3_on[:, None] & (tg3_dphi < TG3_SEL_DPHI))[:, None, :], win[4].exists.shape)
        )

        cols = cluster_columns(win, masks, kin.z_v)
        lam_acc = cols.pop("_lam_acc")
        accordion = calo.E_leak_lat.astype(np.float64) + sum(
            np.where(calo[la].exists, calo[la].expected, 0).sum(axis=(1, 2), dtype=np.float64)
            for la in (geo.L1, geo.L2, geo.L3)
        )
        orc = oracle_resolution(
            kin.E, [OracleCells(w.expected, w.calibration, w.sampling_a, w.sigma**2, w.exists) for w in win]
        )
        cl_et = cols["cl_E"] / np.cosh(np.nan_to_num(cols["cl_eta"]))
        ptype = np.where(kin.is_electron, ELECTRON, np.where(obj.conv_type > 0, 2, UNCONVERTED)).astype(
            np.int32
        )
        conv = conversion_branches(obj, cl_et)
        conv = {k: np.where(kin.is_electron, 0, v).astype(v.dtype) for k, v in conv.items()}
        mu = kin.mu
        out: Columns = {"particleType": ptype, **cols, **conv}
        out.update(
            {
                "mu": mu.astype(F32),
                "rho": ((RHO_UE + RHO_PU * mu) * (1 + RHO_SPREAD * g_rho)).astype(F32),
                "evt_runNo": np.full(n, RUN_NUMBER, np.int32),
                "evt_eventNo": event_no,
                "mcid": (MCID_BASE + ptype).astype(np.int32),
                "evt_nPV": poisson.ppf(u_npv, NPV_SLOPE * mu + 1).astype(np.int32),
                "weight_phys": np.ones(n, F32),
                "weight_kin": np.ones(n, F32),
                "truth_E": kin.E.astype(F32),
                "truth_eta": kin.eta.astype(F32),
                "truth_phi": kin.phi.astype(F32),
                "truth_pdgId": np.where(kin.is_electron, -11 * kin.q, 22).astype(np.int32),
                "truth_convR": obj.truth_conv_R,
                "gen_Eup": calo.E_up.astype(F32),
                "gen_EPS_dep": calo.E_PS_dep.astype(F32),
                "gen_EPS_L1_dead": calo.E_PS_L1_dead.astype(F32),
                "gen_Eleak_lat": (accordion - lam_acc).astype(F32),
                "gen_Eleak_long": calo.E_leak_long.astype(F32),
                "gen_sigmaO1": orc.sigma_O1,
                "gen_sigmaO1p": orc.sigma_O1p,
                "gen_Fvis": orc.visible_fraction,
            }
        )
        out["_accept"] = has_seed & np.isfinite(cols["cl_eta"]) & (cl_et >= ET_MIN) & (cl_et <= ET_MAX)
        return out, win

    # -- metadata ------------------------------------------------------------------------------
    def branch_units(self) -> dict[str, str]:
        gev = [
            "cl_E",
            "cl_E0",
            "cl_E1",
            "cl_E2",
            "cl_E3",
            "cl_E_TileGap3",
            "rho",
            "truth_E",
            "cell_E",
            "cell_sigma",
        ]
        gev += ["gen_Eup", "gen_EPS_dep", "gen_EPS_L1_dead", "gen_Eleak_lat", "gen_Eleak_long", "gen_Enoise"]
        gev += ["gen_Epu", "gen_sigmaO1", "gen_sigmaO1p"]
        units = dict.fromkeys(gev, "GeV")
        units.update(dict.fromkeys(["cell_x", "cell_y", "cell_z", "convR", "truth_convR"], "mm"))
        units.update(dict.fromkeys(["cl_phi", "cl_phiCalo", "cell_phi", "truth_phi"], "rad"))
        dimless = [
            "particleType",
            "ncells",
            "cell_E_over_layer",
            "cell_eta",
            "cell_layer",
            "cl_eta",
            "cl_etaCalo",
        ]
        dimless += [
            "convEtOverPt",
            "convPtRatio",
            "convType",
            "mu",
            "evt_runNo",
            "evt_eventNo",
            "mcid",
            "evt_nPV",
        ]
        dimless += ["weight_phys", "weight_kin", "truth_eta", "truth_pdgId", "gen_Fvis"]
        units.update(dict.fromkeys(dimless, "-"))
        return units

    def metadata(self) -> dict[str, Any]:
        return {
            "cluster": "topo 4-2-0 + supercluster (PHYSICS.md §5)",
            "window": {"deta": WINDOW_DETA, "dphi": WINDOW_DPHI},
            "particleType": {
                "0": "electron",
                "1": "unconverted photon (reco)",
                "2": "converted photon (reco)",
            },
            "cell_layer": {"0": "PS", "1": "L1", "2": "L2", "3": "L3", "4": "TileGap3"},
            "t4_electron_fraction": self.electron_fraction,
            "t4_mu_mean": self.mu_mean,
            "tilegap3": {"W_TG3": tg3.W_TG3, "A_TG3": tg3.A_TG3},
        }
