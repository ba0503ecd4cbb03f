"""energy_regression: e/γ energy calibration over calorimeter cells (references 003, 004; issue 7).

The network predicts the response correction r = E_true/E_cluster from the cluster's cells and
cluster features; E_pred = r·E_cluster (reference 003, PHYSICS.md §5). Derived features are
built here from the loaded input fields, so the model config only names them:

* per cell: ``cell_frac`` = E_cell/E_cluster (the "cell energy fraction"), ``cell_deta`` and
  ``cell_dphi`` relative to the cluster's L2 barycentre (η_calo, φ_calo), ``cell_significance``
  = E_cell/σ_cell, plus the loaded ``cell_x/y/z``, ``cell_E_over_layer``; the layer id is
  embedded by the model.
* per cluster: ``log_E_cluster``, ``abs_eta``, layer fractions ``f0``–``f3``, ``f_TG3`` and the
  §5 ratios ``R12``, ``R0_acc``, ``R_TG3_acc``; ``is_electron``/``is_converted`` for a model
  over all particle types; the η annotation ``eta_annot_0..11`` (reference 004).

Every field a model reads must be a data input or derived from inputs only (checked at
construction when ``inputs`` is given), so truth and generator latents cannot reach the model.
Input standardisation (the models' ``cell_norm``/``cluster_norm`` buffers) is fitted on the first
``norm_batches`` training batches at the start of fit, real cells only, and travels in the
checkpoint. ``max_cells`` optionally keeps the K most energetic cells per cluster (an affordable
transformer on CPU; the dropped cells still count in E_cluster and the layer sums).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from egml.baselines.calibration_bdt import GBDT_FIELDS
from egml.losses.regression import N_OUTPUTS, REGRESSION_LOSSES, regression_loss
from egml.tasks.base import EgmlTask

# |η_calo| boundaries of the η annotation (reference 004: "12 features encoding the distance to
# η regions"): the LAr geometry transitions of PHYSICS.md §1.2 (egml.sim.atlas.geometry) [K].
ETA_ANNOTATION_BOUNDARIES = (0.6, 0.8, 1.35, 1.4, 1.475, 1.52, 1.6, 1.8, 2.0, 2.37, 2.4, 2.47)
ETA_ANNOTATION_WIDTH = 0.05  # ramp half-width in |η| [K]
ETA_ANNOTATIONS = tuple(f"eta_annot_{i}" for i in range(len(ETA_ANNOTATION_BOUNDARIES)))
ELECTRON, CONVERTED = 0, 2  # particleType (PHYSICS.md §5)
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
    "abs_eta": ("eta",),
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
        elif name == "abs_eta":
            out[name] = f["eta"].abs()
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


class EnergyRegressionTask(EgmlTask):
    name: ClassVar[str] = "energy_regression"
    passthrough_fields: ClassVar[tuple[str, ...]] = (
        "E_cluster",
        "E_true",
        "particle_type",
        "eta",
        "mu",
        "sigma_O1",
    )
    required_fields: ClassVar[tuple[str, ...]] = ("E_cluster", "E_true", "particle_type", *GBDT_FIELDS)
    default_objective: ClassVar[str] = "test/iqr_ratio_vs_gbdt"

    def __init__(
        self,
        model: nn.Module,
        normalization: Mapping[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str | None = None,
        loss: str = "mse",
        n_sigma: float = 3.0,
        inputs: Sequence[str] | None = None,
        max_cells: int | None = None,
        norm_batches: int = 20,
        evaluation: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, normalization, lr, weight_decay, scheduler)
        if loss not in REGRESSION_LOSSES:
            raise ValueError(
                f"config key 'task.module.loss' is {loss!r}; expected one of {REGRESSION_LOSSES}"
            )
        names = tuple(getattr(model, "output_names", ("r",)))
        if len(names) != N_OUTPUTS[loss]:
            raise ValueError(
                f"loss {loss!r} needs {N_OUTPUTS[loss]} model outputs, the model gives {names}; "
                "set model.output to point (mse), gaussian (gaussian, truncated) or asymmetric"
            )
        if max_cells is not None and max_cells < 1:
            raise ValueError(f"config key 'task.module.max_cells' is {max_cells}; expected null or >= 1")
        self.loss_name, self.n_sigma, self.output_names = loss, float(n_sigma), names
        self.max_cells, self.norm_batches = max_cells, int(norm_batches)
        self.evaluation_cfg = dict(evaluation or {})
        spec = model.inputs  # egml.models.cell_sets.CellSetInputs
        self.cell_fields, self.cluster_fields = tuple(spec.cell_fields), tuple(spec.cluster_fields)
        self.mask_field = spec.mask_field or "cell_E_mask"
        self.wanted = (*self.cell_fields, *self.cluster_fields)
        if inputs is not None:
            check_model_fields(
                (*self.wanted, *([spec.layer_field] if spec.layer_field else []), self.mask_field), inputs
            )
        self.register_buffer("norm_fitted", torch.zeros((), dtype=torch.bool))

    # --- features ---------------------------------------------------------------------------
    def features(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        feats = derive_features(self.normalizer(batch), self.wanted)
        if self.max_cells is not None:
            feats = keep_leading_cells(feats, self.mask_field, self.max_cells)
        return feats

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.model(self.features(batch))

    def on_fit_start(self) -> None:
        if bool(self.norm_fitted) or self.trainer is None or self.trainer.datamodule is None:
            return
        loader = self.trainer.datamodule.train_dataloader()
        cells, clusters = [], []
        for i, batch in enumerate(loader):
            if i >= self.norm_batches:
                break
            feats = self.features({k: v.to(self.device) for k, v in batch.items()})
            mask = feats[self.mask_field].bool()
            cells.append(torch.stack([feats[n].float() for n in self.cell_fields], -1)[mask])
            if self.cluster_fields:
                clusters.append(torch.stack([feats[n].float() for n in self.cluster_fields], -1))
        self.model.cell_norm.set(*_robust_moments(torch.cat(cells)))
        if clusters:
            self.model.cluster_norm.set(*_robust_moments(torch.cat(clusters)))
        self.norm_fitted.fill_(True)

    # --- loss and outputs ---------------------------------------------------------------------
    def target(self, batch: Mapping[str, Tensor]) -> Tensor:
        return batch["E_true"].float() / batch["E_cluster"].float()

    def compute_loss(self, outputs: Tensor, batch: Mapping[str, Tensor], stage: str) -> Tensor:
        return regression_loss(outputs, self.target(batch), self.loss_name, batch.get("weight"), self.n_sigma)

    def scores(self, outputs: Tensor, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        e_cl = batch["E_cluster"].float()
        out = {"r_pred": outputs[:, 0], "E_pred": outputs[:, 0] * e_cl}
        for i, name in enumerate(self.output_names[1:], start=1):  # σ, σ_low, σ_high: in GeV
            out[f"{name}_pred"] = outputs[:, i] * e_cl
        return out

    @classmethod
    def build_baseline(cls, cfg: Mapping[str, Any] | None) -> Any:
        from egml.baselines.calibration_bdt import CalibrationBDT

        return CalibrationBDT(**dict(cfg or {}))

    def evaluate(
        self,
        predictions: dict[str, np.ndarray],
        out_dir: Path,
        saved_working_points: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Resolution metrics and plots (a regression has no working points to apply)."""
        from egml.tasks.regression_eval import evaluate_energy_regression

        return evaluate_energy_regression(predictions, out_dir, **self.evaluation_cfg)


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


def _robust_moments(x: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per column; a constant column (e.g. conversion variables of unconverted γ) gets std 1."""
    x = x.double()
    if not bool(torch.isfinite(x).all()):
        bad = torch.nonzero(~torch.isfinite(x).all(dim=0)).flatten().tolist()
        raise ValueError(
            f"input features {bad} are not finite in the training batches; expected finite values"
        )
    mean, std = x.mean(dim=0), x.std(dim=0, unbiased=False)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return mean.cpu().numpy(), std.cpu().numpy()
