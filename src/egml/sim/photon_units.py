"""Units of every T1 ``SinglePhoton`` branch (PHYSICS.md §7); recorded in ``gen_config``."""

from __future__ import annotations

_GEV = (
    "evt_rho y_pt y_E y_topoetcone20 y_topoetcone40 y_topoetcone20ptCorrection y_topoetcone40ptCorrection "
    "y_ptcone20 y_ptcone40 y_truth_pt y_truth_E y_img_PS y_img_L1 y_img_L2 y_img_L3 y_img_Had cells_e "
    "cells_sigma gen_E1 gen_E2 gen_Eup gen_Eleak"
).split()
_MEV = "y_e277 y_emaxs1 y_e2tsts1 y_emins1 y_deltae".split()
_MM = "y_convRadius y_truth_convRadius cells_x cells_y cells_z gen_convR_true".split()
_RAD = "y_phi y_truth_phi cells_phi gen_theta12".split()
_X0 = ["gen_t0"]
_NONE = (
    "evt_runNo evt_eventNo mcid evt_mu evt_nPV mcTotWeightNoPU_PIDuse puWeight weight_kin weight_phys "
    "y_eta y_eta_cl_s2 y_convType y_Rhad1 y_Rhad y_Reta y_Rphi y_weta2 y_f1 y_f3 y_fracs1 y_weta1 y_wtots1 "
    "y_Eratio y_IsLoose y_IsTight y_iso_FixedCutLoose y_iso_FixedCutTight y_iso_FixedCutTightCaloOnly y_lowET "
    "y_isTruthMatchedPhoton y_truthType y_truthOrigin y_truth_eta ncells cells_eta cells_layer gen_source gen_z"
).split()

BRANCH_UNITS: dict[str, str] = {
    **{b: "GeV" for b in _GEV},
    **{b: "MeV" for b in _MEV},
    **{b: "mm" for b in _MM},
    **{b: "rad" for b in _RAD},
    **{b: "X0" for b in _X0},
    **{b: "" for b in _NONE},
}
