"""T2 generator: ATLAS electron candidates of the six DNN classes, tree ``tree`` (PHYSICS.md §3, §7).

One block: event draws (§1.1) → truth processes and particles (electron_sources) → jet remainder
of non-prompt processes (jets, §1.6) → calorimeter cells (atlas.calorimeter) → cluster and shower
shapes from the cells (electron_cluster) → tracks, hits, TRT (tracking) → track match and
ambiguity (track_matching) → truth of the matched track → IFF type and ``p_class6``.
No reconstruction step sees the class label (§0 rule 3).

Not written: p_LHValue and p_LHLoose/Medium/Tight. The LH of §3 is fitted on the training split
(§0 rule 4), so it is a task-side baseline, not a generator output. ``weight_kin`` is stored as 1:
the (E_T,cl, |η_cl,s2|) reweighting is fitted on the training split by the data layer (§0 rule 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from egml.physics import electron_features as ef
from egml.sim import jets, tracking
from egml.sim.atlas.calorimeter import GridSpec, simulate_calorimeter
from egml.sim.atlas.geometry import L1, L2, impact_eta
from egml.sim.atlas.knobs import CaloKnobs
from egml.sim.atlas.material import (
    DOUBLE_SI,
    DOUBLE_TRACK_MIN_PT,
    FAKE_CONVERSION_RATE,
    SI_MAX_RADIUS,
    SINGLE_SI,
    SINGLE_TRT,
    bend_dphi,
    reconstruction_efficiency,
)
from egml.sim.atlas.objects import EMObjects, HadronObjects
from egml.sim.atlas.response import DetectorInstance
from egml.sim.base import BLOCK_SIZE, Columns, GenConfig
from egml.sim.electron_classes import CLASS_NAMES, IFF_ENUM_VERSION, class6, iff_type
from egml.sim.electron_cluster import AXIS_ETA_MAX, WINDOWS, calibrated_energy, reconstruct_cluster
from egml.sim.electron_sources import (
    HADRON,
    HEAVY_FLAVOUR,
    N_PROCESSES,
    PI0_ELECTRON,
    generate_sources,
    l2_radius_m,
)
from egml.sim.electron_spectra import event_draws, weight_phys
from egml.sim.track_matching import AmbiguityType, ambiguity_type, match_track

F32 = np.float32
ET_MIN, ET_MAX = 4.5, 1000.0  # GeV, kept E_T,cl window (§3 class mix)
VERSION = "t2-1.3"  # 1.3: numba kernels, legs bent per layer radius; 1.2: e± energy scale, leg brem, trident hybrid tracks; 1.1: fused corner integrals

UNITS: dict[str, str] = {
    "averageInteractionsPerCrossing": "", "p_et_calo": "GeV", "p_eta": "", "p_phi": "rad", "p_charge": "",
    "p_Rhad1": "", "p_Rhad": "", "p_f3": "", "p_weta2": "", "p_Rphi": "", "p_Reta": "", "p_wtots1": "",
    "p_Eratio": "", "p_f1": "", "p_numberOfInnermostPixelHits": "", "p_numberOfPixelHits": "",
    "p_numberOfSCTHits": "", "p_d0": "mm", "p_d0Sig": "", "p_qd0Sig": "", "p_dPOverP": "", "p_TRTPID": "",
    "p_deltaEta1": "", "p_deltaPhiRescaled2": "rad", "p_EoverP": "", "p_ambiguityType": "",
    "p_TruthType": "", "p_TruthOrigin": "", "p_iffTruth": "", "p_firstEgMotherPdgId": "",
    "p_truth_pt": "GeV", "p_truth_eta": "", "p_truth_phi": "rad", "p_truth_E": "GeV", "p_class6": "",
    "evt_runNo": "", "evt_eventNo": "", "mcid": "", "evt_rho": "GeV", "evt_nPV": "",
    "weight_kin": "", "weight_phys": "", "gen_process": "",
}  # fmt: skip
RUN_NUMBER, MCID = 284500, 999002  # mc16-like run number and the egml T2 sample id


def _remainder(rng, src, n):
    """Jet remainder (§1.6) around HF and light-flavour candidates: π0 fragments → EM, charged → hadrons."""
    active = np.isin(src.process, (HEAVY_FLAVOUR, PI0_ELECTRON, HADRON))
    z_light = jets.leading_fraction_beta(rng.random(n))
    z_hf = rng.beta(2.0, 3.0, n).astype(F32)
    z = np.where(src.process == HEAVY_FLAVOUR, z_hf, z_light)
    rem = jets.jet_remainder(rng, src.pt, src.eta, z, active)
    t0 = -np.log(np.maximum(rng.random(rem.E.shape), 1e-30)).astype(F32) * F32(9 / 7)
    neutral = rem.mask & ~rem.charged
    eta_f = src.eta[:, None] + rem.deta
    em = EMObjects(np.where(neutral, rem.E, 0), eta_f, src.phi[:, None] + rem.dphi, t0, neutral)
    had = HadronObjects(np.where(rem.charged, rem.E, 0), eta_f, src.phi[:, None] + rem.dphi_calo, rem.charged)
    return em, had


def _axis(em: EMObjects, had: HadronObjects, eta: np.ndarray, phi: np.ndarray):
    """Window axis: energy-weighted direction of all objects within ΔR < 0.1 of the seed direction."""
    e = np.concatenate([np.where(em.mask, em.E, 0), np.where(had.mask, had.E, 0)], axis=1)
    de = np.concatenate([em.eta, had.eta], axis=1) - eta[:, None]
    dp = ((np.concatenate([em.phi, had.phi], axis=1) - phi[:, None] + np.pi) % (2 * np.pi)) - np.pi
    w = np.where(de * de + dp * dp < 0.01, e, 0)
    sw = np.maximum(w.sum(1), 1e-12)
    return (eta + (w * de).sum(1) / sw).astype(F32), (phi + (w * dp).sum(1) / sw).astype(F32)


class ElectronGenerator:
    """T2 ``tree`` generator (task electron_dnn, task_id 2)."""

    task = "electron_dnn"
    task_id = 2
    tree = "tree"
    version = "1.1-" + VERSION  # part of the default-data cache key

    def __init__(self, config: GenConfig) -> None:
        self.config = config
        self.knobs = CaloKnobs.from_gen_config(config)
        self.detector = DetectorInstance.from_seed(config.detector_seed)
        self.grid = GridSpec(dict(WINDOWS))

    def generate_block(self, rng: np.random.Generator, n: int = BLOCK_SIZE) -> Columns:
        if n < 1:
            raise ValueError(f"generate_block: n must be a positive number of candidates, got {n}")
        ev = event_draws(rng, n, N_PROCESSES, self.knobs.mu_offset)
        src = generate_sources(rng, ev["process"], ev["pt"], ev["eta"], ev["phi"], self.knobs.mat_scale)
        em_rem, had_rem = _remainder(rng, src, n)
        em = EMObjects.concat(src.em, em_rem)
        had = HadronObjects(
            np.concatenate([src.had.E, had_rem.E], 1), np.concatenate([src.had.eta, had_rem.eta], 1),
            np.concatenate([src.had.phi, had_rem.phi], 1), np.concatenate([src.had.mask, had_rem.mask], 1),
        )  # fmt: skip
        axis_eta, axis_phi = _axis(em, had, src.eta, src.phi)
        axis_eta = np.clip(axis_eta, -AXIS_ETA_MAX, AXIS_ETA_MAX)
        cells = simulate_calorimeter(
            em, had, axis_eta, axis_phi, ev["z_v"], ev["mu"], rng, self.detector, self.grid, self.knobs,
            split_noise=False,  # one noise normal per cell: the T2 columns never split el/pu noise
        )  # fmt: skip
        cl = reconstruct_cluster(cells)
        return self._reconstruct(rng, ev, src, cl)

    def _reconstruct(self, rng, ev, src, cl) -> Columns:
        n = len(src.pt)
        t = src.tracks
        shape = t.pt.shape
        mu = ev["mu"]
        # --- track parameters (§3 Tracks), every draw (N, 3) ---------------------------------------
        q_reco, pt_meas = tracking.measured_curvature(
            t.fit_q, t.fit_pt, rng.standard_normal(shape, dtype=F32)
        )
        sig_ang = tracking.angular_resolution(t.pt, np.abs(t.eta))
        eta_trk = (t.eta + sig_ang * rng.standard_normal(shape, dtype=F32)).astype(F32)
        phi0 = (t.phi0 + sig_ang * rng.standard_normal(shape, dtype=F32)).astype(F32)
        p_meas = pt_meas * np.cosh(eta_trk)
        dpp = tracking.momentum_loss(t.z_brem, rng.standard_normal(shape, dtype=F32))
        p_last = p_meas * (1 - dpp)
        sig_d0 = tracking.sigma_d0_mm(t.pt, t.eta, t.is_electron)
        d0 = (t.d0_true + sig_d0 * rng.standard_normal(shape, dtype=F32)).astype(F32)
        n_ibl, n_pix = tracking.pixel_hits(t.r_origin, rng.random((*shape, 4), dtype=F32))
        n_sct = tracking.sct_hits(
            t.r_origin, rng.random((*shape, 4), dtype=F32), rng.poisson(tracking.SCT_OVERLAP_MEAN, shape)
        )
        eprob = tracking.trt_eprob_ht(rng, t.is_electron, t.pt * np.cosh(t.eta), t.mass, mu[:, None], eta_trk)
        # --- extrapolation to the calorimeter and matching ---------------------------------------
        aeta = np.abs(eta_trk)
        r_l = l2_radius_m(aeta)
        q_f = q_reco.astype(F32)
        # matching extrapolates from the last measurement: the track's true landing point, smeared
        # like the perigee direction
        phi_match = (t.phi_calo + (phi0 - t.phi0)).astype(F32)
        eta_l2 = impact_eta(eta_trk, ev["z_v"][:, None], L2)
        idx, matched, _ = match_track(
            eta_l2 - cl["eta2"][:, None], ef.wrap_phi(phi_match - cl["phi2"][:, None]), p_last, t.present
        )
        pick = lambda a: np.take_along_axis(np.asarray(a), idx[:, None], axis=1)[:, 0]  # noqa: E731
        # E/p and E_T use the cluster calibrated to the e± scale; the track-matching step that forms
        # Δφres rescales the track to the EM-scale cluster energy, before the calibration (§3)
        e_clus = calibrated_energy(cl["E"], cl["eta2"])
        pt_resc = np.maximum(cl["E"] / np.cosh(pick(eta_trk)), F32(1e-3))
        phi_resc = pick(phi0) + bend_dphi(np.zeros(n, F32), pick(r_l), pt_resc, pick(q_f), pick(aeta))
        eta_l1 = impact_eta(pick(eta_trk), ev["z_v"], L1)
        # --- conversion vertex (§1.3 reconstruction) and ambiguity ------------------------------
        u = rng.random((n, 2), dtype=F32)
        true_conv = src.conv_radius > 0
        soft = src.conv_legs_pt.min(axis=1)
        reco_conv = true_conv & (u[:, 0] < reconstruction_efficiency(src.conv_radius))
        fake_conv = ~true_conv & (u[:, 1] < F32(FAKE_CONVERSION_RATE))
        double = reco_conv & (soft > DOUBLE_TRACK_MIN_PT) & (src.conv_radius < SI_MAX_RADIUS)
        vtype = np.select(
            [double, reco_conv & (src.conv_radius < SI_MAX_RADIUS), reco_conv, fake_conv],
            [DOUBLE_SI, SINGLE_SI, SINGLE_TRT, SINGLE_SI],
            0,
        )
        harder_leg = np.where(src.conv_legs_pt[:, 0] >= src.conv_legs_pt[:, 1], 1, 2)
        in_vtx = (reco_conv & (double & (idx >= 1) | (idx == harder_leg))) | fake_conv
        p_legs = np.where(true_conv[:, None], src.conv_legs_pt, 0) * np.cosh(src.eta)[:, None]
        vtx_p = np.where(fake_conv, pick(p_meas), np.where(double, p_legs.sum(1), p_legs.max(1)))
        amb = ambiguity_type(
            pick(n_pix) + pick(n_sct), pick(n_pix), pick(n_ibl), pick(pt_meas), pick(p_meas), e_clus,
            reco_conv | fake_conv, vtype, in_vtx, vtx_p,
        )  # fmt: skip
        # --- truth of the matched track, IFF and class --------------------------------------------
        q = pick(q_reco)
        ttype, torig, mpdg, mtype = (
            pick(t.truth_type),
            pick(t.truth_origin),
            pick(t.mother_pdg),
            pick(t.mother_type),
        )
        iff = iff_type(ttype, torig, mpdg, mtype, q)
        label = class6(iff, ttype, mpdg, q)
        et = (e_clus / np.cosh(cl["eta2"])).astype(F32)
        # a cluster needs positive middle-layer energy (E277, E237 > 0) to be an electron candidate,
        # so that Rη and Rφ are defined (§3: all features finite)
        middle_ok = np.isfinite(cl["Reta"]) & np.isfinite(cl["Rphi"])
        keep = (
            matched
            & (amb != AmbiguityType.photon)
            & (et >= ET_MIN)
            & (et <= ET_MAX)
            & (label >= 0)
            & middle_ok
        )
        aeta2 = np.abs(cl["eta2"])
        t_pt, t_eta = pick(t.pt), pick(t.eta)
        cols: dict[str, np.ndarray] = {
            "averageInteractionsPerCrossing": mu,
            "p_et_calo": et,
            "p_eta": cl["eta2"],
            "p_phi": cl["phi2"],
            "p_charge": q.astype(np.int32),
            "p_Rhad1": cl["Rhad1"], "p_Rhad": cl["Rhad"], "p_f3": cl["f3"], "p_weta2": cl["weta2"],
            "p_Rphi": cl["Rphi"], "p_Reta": cl["Reta"], "p_wtots1": cl["wtots1"], "p_Eratio": cl["Eratio"],
            "p_f1": cl["f1"],
            "p_numberOfInnermostPixelHits": pick(n_ibl), "p_numberOfPixelHits": pick(n_pix),
            "p_numberOfSCTHits": pick(n_sct),
            "p_d0": pick(d0),
            "p_d0Sig": ef.d0_significance(pick(d0), pick(sig_d0)),
            "p_qd0Sig": ef.signed_d0_significance(pick(d0), pick(sig_d0), q),
            "p_dPOverP": pick(dpp),
            "p_TRTPID": pick(eprob),
            "p_deltaEta1": ef.delta_eta1(cl["eta_s1"], eta_l1),
            "p_deltaPhiRescaled2": ef.delta_phi_rescaled2(cl["phi2"], phi_resc),
            "p_EoverP": ef.e_over_p(e_clus, pick(p_meas)),
            "p_ambiguityType": amb,
            "p_TruthType": ttype, "p_TruthOrigin": torig, "p_iffTruth": iff, "p_firstEgMotherPdgId": mpdg,
            "p_truth_pt": t_pt, "p_truth_eta": t_eta, "p_truth_phi": pick(t.phi0),
            "p_truth_E": t_pt * np.cosh(t_eta),
            "p_class6": label,
            "evt_runNo": np.full(n, RUN_NUMBER, np.int32), "evt_eventNo": ev["event"], "mcid": np.full(n, MCID, np.int32),
            "evt_rho": ev["rho"], "evt_nPV": ev["n_pv"],
            "weight_kin": np.ones(n, F32),
            "weight_phys": weight_phys(src.process, src.pt, src.eta, src.force_weight),
            "gen_process": src.process.astype(np.int32),
        }  # fmt: skip
        del aeta2
        out = {}
        for k, v in cols.items():
            v = np.asarray(v)[keep]
            out[k] = (
                v.astype(F32)
                if v.dtype.kind == "f"
                else v.astype(np.int64 if k == "evt_eventNo" else np.int32)
            )
        return out

    def branch_units(self) -> dict[str, str]:
        return dict(UNITS)

    def metadata(self) -> dict[str, Any]:
        return {
            "generator": "egml.sim.electron.ElectronGenerator",
            "version": VERSION,
            "iff_enum": IFF_ENUM_VERSION,
            "class_names": list(CLASS_NAMES),
            "et_window_GeV": [ET_MIN, ET_MAX],
            "knobs": {
                k: (v if not isinstance(v, dict) else {str(a): b for a, b in v.items()})
                for k, v in vars(self.knobs).items()
            },
            "not_written": "p_LHValue, p_LH{Loose,Medium,Tight}: task-side LH baseline fitted on the training split",
        }
