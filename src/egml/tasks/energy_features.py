"""Model features of energy_regression, derived from the loaded input fields (issue 7).

* per cell: ``cell_frac`` = E_cell/E_cluster (the "cell energy fraction"), ``cell_deta`` and
  ``cell_dphi`` relative to the cluster's L2 barycentre (η_calo, φ_calo), ``cell_significance``
  = E_cell/σ_cell, plus the loaded ``cell_x/y/z``, ``cell_E_over_layer``; the layer id is
  embedded by the model.
* per cluster: ``log_E_cluster``, ``log_E_acc`` (E1+E2+E3), ``abs_eta``, ``abs_eta_calo``, the
  GBDT's cell position ``cell_index_calo``, ``eta_mod_calo`` and ``phi_mod_calo`` (as fractions of
  the cell pitch / accordion period: they drive the lateral leakage), ``calo_region`` (the id of
  the 0.2 × 0.4 miscalibration region, for a model's ``region_field`` embedding), layer fractions
  ``f0``–``f3``, ``f_TG3`` and the §5 ratios ``R12``, ``R0_acc``, ``R_TG3_acc``;
  ``is_electron``/``is_converted`` for a model over all particle types; the η annotation
  ``eta_annot_0..11`` (reference 004).

Every field a model reads must be a data input or derived from inputs only
(:func:`check_model_fields`), so truth and generator latents cannot reach the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from egml.baselines.calibration_bdt import ACCORDION_PHI_PERIOD, BARREL_ETA_CALO, CELL_ETA_PITCH

# |η_calo| boundaries of the η annotation (reference 004: "12 features encoding the distance to
# η regions"): the LAr geometry transitions of PHYSICS.md §1.2 (egml.sim.atlas.geometry) [K].
ETA_ANNOTATION_BOUNDARIES = (0.6, 0.8, 1.35, 1.4, 1.475, 1.52, 1.6, 1.8, 2.0, 2.37, 2.4, 2.47)
ETA_ANNOTATION_WIDTH = 0.05  # ramp half-width in |η| [K]
ETA_ANNOTATIONS = tuple(f"eta_annot_{i}" for i in range(len(ETA_ANNOTATION_BOUNDARIES)))
ELECTRON, CONVERTED = 0, 2  # particleType (PHYSICS.md §5)
# 0.2 × 0.4 (η × φ) calorimeter regions of the regional miscalibration (PHYSICS.md §1.5): η edges
# at multiples of 0.2 (26 bins over −2.6..2.6), φ edges at −π + 0.4k (16 bins, the last narrower)
# → ids 0..415 for a learned embedding
REGION_ETA_MIN, REGION_DETA, REGION_DPHI, N_REGION_ETA, N_REGION_PHI = -2.6, 0.2, 0.4, 26, 16
N_REGIONS = N_REGION_ETA * N_REGION_PHI
LAYER_SUMS = ("E0", "E1", "E2", "E3", "E_TG3")

#: derived field → the input fields it is computed from
CELL_DERIVED: dict[str, tuple[str, ...]] = {
    "cell_frac": ("cell_E", "E_cluster"),
    "cell_deta": ("cell_eta", "eta_calo"),
    "cell_dphi": ("cell_phi", "phi_calo"),
    "cell_significance": ("cell_E", "cell_sigma"),
}
CLUSTER_DERIVED: dict[str, tuple[str, ...]] = {
    "log_E_cluster": ("E_cluster",),
    "log_E_acc": ("E1", "E2", "E3"),
    "abs_eta": ("eta",),
    "abs_eta_calo": ("eta_calo",),
    "cell_index_calo": ("eta_calo",),
    "eta_mod_calo": ("eta_calo",),
    "phi_mod_calo": ("eta_calo", "phi_calo"),
    "calo_region": ("eta_calo", "phi_calo"),
    "f0": ("E0", "E_cluster"),
    "f1": ("E1", "E_cluster"),
    "f2": ("E2", "E_cluster"),
    "f3": ("E3", "E_cluster"),
    "f_TG3": ("E_TG3", "E_cluster"),
    "R12": ("E1", "E2"),
    "R0_acc": ("E0", "E1", "E2", "E3"),
    "R_TG3_acc": ("E_TG3", "E1", "E2", "E3"),
    "is_electron": ("particle_type",),
    "is_converted": ("particle_type",),
    **{name: ("eta_calo",) for name in ETA_ANNOTATIONS},
}
DERIVED = {**CELL_DERIVED, **CLUSTER_DERIVED}


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    """num/den, 0 where den is 0 (an empty layer)."""
    safe = torch.where(den != 0, den, torch.ones_like(den))
    return torch.where(den != 0, num / safe, torch.zeros_like(num))


def eta_annotation(abs_eta_calo: Tensor) -> Tensor:
    """``(B, 12)`` ramps clip((|η| − b_k)/w, −1, 1) around the geometry boundaries b_k."""
    b = torch.tensor(ETA_ANNOTATION_BOUNDARIES, dtype=abs_eta_calo.dtype, device=abs_eta_calo.device)
    return ((abs_eta_calo[:, None] - b) / ETA_ANNOTATION_WIDTH).clamp(-1.0, 1.0)


def derive_features(batch: Mapping[str, Tensor], wanted: Sequence[str]) -> dict[str, Tensor]:
    """The batch plus the derived fields in ``wanted`` (see the module docstring), float32."""
    out = dict(batch)
    f = {k: v.float() for k, v in batch.items() if v.is_floating_point()}
    e_cl = f.get("E_cluster")
    for name in wanted:
        if name in out or name not in DERIVED:
            continue
        if name == "cell_frac":
            out[name] = _ratio(f["cell_E"], e_cl[:, None])
        elif name == "cell_deta":
            out[name] = f["cell_eta"] - f["eta_calo"][:, None]
        elif name == "cell_dphi":  # wrapped to (−π, π]
            out[name] = torch.remainder(f["cell_phi"] - f["phi_calo"][:, None] + np.pi, 2 * np.pi) - np.pi
        elif name == "cell_significance":
            out[name] = _ratio(f["cell_E"], f["cell_sigma"])
        elif name == "log_E_cluster":
            out[name] = torch.log(e_cl.clamp(min=1e-3))
        elif name == "log_E_acc":
            out[name] = torch.log((f["E1"] + f["E2"] + f["E3"]).clamp(min=1e-3))
        elif name == "abs_eta":
            out[name] = f["eta"].abs()
        elif name == "abs_eta_calo":
            out[name] = f["eta_calo"].abs()
        elif name == "cell_index_calo":
            out[name] = torch.floor(f["eta_calo"].abs() / CELL_ETA_PITCH)
        elif name == "eta_mod_calo":  # position of the L2 barycentre inside its cell, in [0, 1)
            out[name] = torch.remainder(f["eta_calo"].abs(), CELL_ETA_PITCH) / CELL_ETA_PITCH
        elif name == "calo_region":
            ieta = torch.floor((f["eta_calo"] - REGION_ETA_MIN) / REGION_DETA).clamp(0, N_REGION_ETA - 1)
            phase = torch.remainder(f["phi_calo"] + np.pi, 2 * np.pi)
            iphi = torch.floor(phase / REGION_DPHI).clamp(0, N_REGION_PHI - 1)
            out[name] = ieta * N_REGION_PHI + iphi
        elif name == "phi_mod_calo":  # accordion φ phase, in [0, 1)
            period = torch.where(
                f["eta_calo"].abs() < BARREL_ETA_CALO,
                torch.full_like(f["phi_calo"], ACCORDION_PHI_PERIOD["barrel"]),
                torch.full_like(f["phi_calo"], ACCORDION_PHI_PERIOD["endcap"]),
            )
            out[name] = torch.remainder(f["phi_calo"], period) / period
        elif name in ("f0", "f1", "f2", "f3", "f_TG3"):
            out[name] = _ratio(f[LAYER_SUMS[("f0", "f1", "f2", "f3", "f_TG3").index(name)]], e_cl)
        elif name == "R12":
            out[name] = _ratio(f["E1"], f["E2"])
        elif name in ("R0_acc", "R_TG3_acc"):
            num = f["E0"] if name == "R0_acc" else f["E_TG3"]
            out[name] = _ratio(num, f["E1"] + f["E2"] + f["E3"])
        elif name in ("is_electron", "is_converted"):
            ptype = batch["particle_type"]
            out[name] = (ptype == (ELECTRON if name == "is_electron" else CONVERTED)).float()
        elif name in ETA_ANNOTATIONS:
            ann = eta_annotation(f["eta_calo"].abs())
            out.update({a: ann[:, i] for i, a in enumerate(ETA_ANNOTATIONS)})
    return out


def keep_leading_cells(batch: dict[str, Tensor], mask_field: str, k: int) -> dict[str, Tensor]:
    """Keep the ``k`` cells of largest E_cell per cluster (padded slots last), every per-cell field."""
    mask = batch[mask_field].bool()
    if mask.shape[1] <= k:
        return batch
    score = torch.where(mask, batch["cell_E"].float(), torch.full_like(batch["cell_E"].float(), -torch.inf))
    # ties (and padded slots, all −inf) are broken by position: stable, deterministic order
    order = torch.sort(score, dim=1, descending=True, stable=True).indices[:, :k]
    out = dict(batch)
    for name, value in batch.items():
        if value.dim() >= 2 and value.shape[:2] == mask.shape:
            out[name] = torch.gather(
                value,
                1,
                order.view(*order.shape, *([1] * (value.dim() - 2))).expand(
                    order.shape[0], k, *value.shape[2:]
                ),
            )
    return out


def check_model_fields(fields: Sequence[str], inputs: Sequence[str]) -> None:
    """Every model field must be a data input (or its mask) or derived from inputs only."""
    allowed = set(inputs) | {f"{name}_mask" for name in inputs}
    for field in fields:
        needs = DERIVED.get(field, (field,))
        missing = [n for n in needs if n not in allowed]
        if missing:
            raise ValueError(
                f"model field {field!r} needs {missing}, which are not in data.inputs; "
                "expected model fields built from network inputs only"
            )
