"""T3 generator: CMS merged photons from H → AA → 4γ, single photons and QCD jets (PHYSICS.md §4, §7).

Tree ``fevt/RHTree``, one entry per photon candidate passing the CMS E2E preselection (knob
``preselection``), so a block returns fewer than BLOCK_SIZE entries. Knobs (``GenConfig.knobs``):

- ``class_fractions`` [f_γ, f_A, f_jet] (default 1/3 each; labels 0 γ, 1 A → γγ, 2 jet);
- ``m_A_mode``: train (0.1, 0.4, 0.6, 1.0 GeV, default), eval (0.2, 0.8), all, list (``m_A_list``)
  or continuous (uniform in ``m_A_range``, default [0.1, 1.2] GeV);
- ``noise_gev`` (0.050; §4 range 0.04–0.08), ``pt_min`` (15 GeV), ``preselection`` (True),
  ``flat_images`` (False: float[32][32]; True: flat [1024], the real-file layout).
Shifts: material scales the tracker material, noise the crystal noise, moliere R_M, pileup μ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from egml.physics.cms_photon import passes_preselection
from egml.sim.base import BLOCK_SIZE, GenConfig, Shift
from egml.sim.cms.candidates import draw_candidates
from egml.sim.cms.higgs import M_A_RANGE, mass_choices
from egml.sim.cms.images import make_images
from egml.sim.cms.photon_vars import photon_variables
from egml.sim.cms.response import NOISE_GEV, EcalInstance

F32 = np.float32
IMAGE_BRANCHES = ("SC_energy", "SC_time", "TracksPt", "TracksDxy", "TracksDz")
DEFAULT_KNOBS: dict[str, Any] = {
    "class_fractions": [1 / 3, 1 / 3, 1 / 3],
    "m_A_mode": "train",
    "m_A_list": None,
    "m_A_range": list(M_A_RANGE),
    "noise_gev": NOISE_GEV,
    "pt_min": 15.0,
    "preselection": True,
    "flat_images": False,
}
MCID_BASE = 300000  # mcid-like sample id: MCID_BASE + label (§6)


class MergedPhotonGenerator:
    """T3 generator (see module docstring)."""

    task = "merged_photon"
    task_id = 3
    tree = "fevt/RHTree"
    version = "1.1-t3.2"  # t3.2: numba corner kernels (float rounding); part of the cache key

    def __init__(self, config: GenConfig | None = None) -> None:
        self.config = config or GenConfig()
        unknown = set(self.config.knobs) - set(DEFAULT_KNOBS)
        if unknown:
            raise ValueError(
                f"unknown merged_photon knob(s) {sorted(unknown)}; expected {sorted(DEFAULT_KNOBS)}"
            )
        self.knobs = {**DEFAULT_KNOBS, **self.config.knobs}
        fr = np.asarray(self.knobs["class_fractions"], np.float64)
        if fr.shape != (3,) or np.any(fr < 0) or fr.sum() <= 0:
            raise ValueError(f"class_fractions must be 3 non-negative numbers [γ, A, jet], got {fr.tolist()}")
        self.fractions = fr / fr.sum()
        self.mass_list = mass_choices(str(self.knobs["m_A_mode"]), self.knobs["m_A_list"])
        lo, hi = (float(x) for x in self.knobs["m_A_range"])
        if not 0 < lo < hi:
            raise ValueError(f"m_A_range must be [lo, hi] with 0 < lo < hi GeV, got {[lo, hi]}")
        self.mass_range = (lo, hi)
        self.shift: Shift = self.config.shift
        self.instance = EcalInstance.from_seed(self.config.detector_seed)

    def generate_block(self, rng: np.random.Generator, n: int = BLOCK_SIZE) -> dict[str, np.ndarray]:
        """Columns of the candidates of one RNG block that pass the preselection."""
        c = draw_candidates(
            rng, n, self.fractions, self.mass_list, self.mass_range, self.shift.material, self.shift.mu_offset
        )
        noise = float(self.knobs["noise_gev"]) * self.shift.noise
        im = make_images(c, rng, self.instance, noise, self.shift.moliere)
        pho = photon_variables(c, im)
        event_no = rng.integers(0, 2**62, n, dtype=np.int64)
        keep = np.ones(n, bool)
        if self.knobs["preselection"]:
            keep = passes_preselection(
                pho["pho_pT"],
                pho["pho_scEta"],
                pho["pho_r9"],
                pho["pho_HoE"],
                pho["pho_sieie"],
                pho["pho_hasPxlSeed"].astype(bool),
                float(self.knobs["pt_min"]),
            )
        images = {
            "SC_energy": im.energy,
            "SC_time": im.time,
            "TracksPt": im.tracks_pt,
            "TracksDxy": im.tracks_dxy,
            "TracksDz": im.tracks_dz,
        }
        if self.knobs["flat_images"]:
            images = {k: v.reshape(n, -1) for k, v in images.items()}
        cols: dict[str, np.ndarray] = {
            "evt_runNo": np.ones(n, np.int32),
            "evt_eventNo": event_no,
            "mcid": (MCID_BASE + c.label).astype(np.int32),
            "evt_mu": c.mu,
            "evt_rho": c.rho,
            "evt_nPV": c.n_pv,
            "weight_kin": np.ones(n, F32),
            "weight_phys": np.ones(n, F32),
            **images,
            **pho,
            "label": c.label,
            **c.truth,
        }
        return {k: np.ascontiguousarray(v[keep]) for k, v in cols.items()}

    def branch_units(self) -> dict[str, str]:
        units = {
            k: "GeV"
            for k in (
                "SC_energy",
                "TracksPt",
                "pho_pT",
                "pho_E",
                "pho_Eraw",
                "pho_phoIso",
                "pho_chgIso",
                "pho_chgIsoWrongVtx",
                "pho_neuIso",
                "A_mass",
                "A_pT",
                "mHgen",
                "gen_chargedRemPt",
            )
        }
        units.update(
            {"SC_time": "ns", "TracksDxy": "cm", "TracksDz": "cm", "pho_rho": "GeV", "evt_rho": "GeV"}
        )
        units.update({k: "rad" for k in ("pho_phi", "A_phi")})
        dimensionless = (
            "evt_runNo",
            "evt_eventNo",
            "mcid",
            "evt_mu",
            "evt_nPV",
            "weight_kin",
            "weight_phys",
            "pho_eta",
            "pho_r9",
            "pho_sieie",
            "pho_sieip",
            "pho_s4",
            "pho_etaWidth",
            "pho_phiWidth",
            "pho_scEta",
            "pho_HoE",
            "pho_hasPxlSeed",
            "pho_passEleVeto",
            "label",
            "A_eta",
            "A_DR",
            "gen_source",
            "gen_z",
            "gen_nConv",
        )
        units.update({k: "" for k in dimensionless})
        return units

    def metadata(self) -> dict[str, Any]:
        axis = "[ieta][iphi]" if not self.knobs["flat_images"] else "flat[1024] = ieta*32 + iphi"
        return {
            "knobs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.knobs.items()},
            "image_axis_order": {k: axis for k in IMAGE_BRANCHES},
            "image_seed_position": [15, 15],
            "labels": {"0": "single photon", "1": "A -> gamma gamma (H -> AA)", "2": "QCD jet"},
            "m_A_list": list(self.mass_list) if self.mass_list is not None else None,
            "truth_branches": ["label", "A_mass", "A_pT", "A_eta", "A_phi", "A_DR", "mHgen", "mcid"],
            "latent_branches": ["gen_source", "gen_z", "gen_nConv", "gen_chargedRemPt"],
        }
