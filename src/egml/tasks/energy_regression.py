"""energy_regression: e/γ energy calibration over calorimeter cells (references 003, 004; issue 7).

The network predicts the response correction r = E_true/E_cluster from the cluster's cells and
cluster features; E_pred = r·E_cluster (reference 003, PHYSICS.md §5). Its features are derived
from the loaded input fields by :mod:`egml.tasks.energy_features`, so the model config only names
them; every field must be an input or derived from inputs only (checked when ``inputs`` is given).

Training aids (issue 7 diagnosis; the reference setup is ``target_norm=false scheduler=cosine
median_correction.enabled=false`` with the old cluster fields):

* input standardisation (the models' ``cell_norm``/``cluster_norm``) and, with ``target_norm``,
  the target offset/scale (median and IQR/1.349 of r, so the head regresses a unit-width target:
  without it MSE training on r, whose width is ~2 %, was unstable) are fitted on the first
  ``norm_batches`` training batches at the start of fit and travel in the checkpoint;
* ``scheduler=warmup_cosine``: per-step linear warm-up over ``warmup_frac`` then cosine decay;
* ``median_correction``: a residual median response in (E_pred, |η|) bins, refitted on the
  validation split at the end of each validation epoch and divided out at test/predict time
  (:mod:`egml.tasks.median_correction`); never fitted on test.

``max_cells`` optionally keeps the K most energetic cells per cluster (an affordable transformer
on CPU; the dropped cells still count in E_cluster and the layer sums).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from egml.baselines.calibration_bdt import GBDT_FIELDS
from egml.evaluation.resolution import IQR_TO_SIGMA
from egml.losses.regression import N_OUTPUTS, REGRESSION_LOSSES, regression_loss
from egml.tasks.base import EgmlTask
from egml.tasks.energy_features import (  # noqa: F401  (re-exported: the task's feature API)
    CELL_DERIVED,
    CLUSTER_DERIVED,
    DERIVED,
    ETA_ANNOTATIONS,
    check_model_fields,
    derive_features,
    eta_annotation,
    keep_leading_cells,
)
from egml.tasks.median_correction import MedianCorrection

SCHEDULERS = (None, "none", "cosine", "warmup_cosine")


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
        target_norm: bool = False,
        warmup_frac: float = 0.05,
        median_correction: Mapping[str, Any] | None = None,
        evaluation: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, normalization, lr, weight_decay, scheduler)
        if scheduler not in SCHEDULERS:
            raise ValueError(
                f"config key 'task.module.scheduler' is {scheduler!r}; expected one of {SCHEDULERS}"
            )
        if not 0.0 <= warmup_frac < 1.0:
            raise ValueError(
                f"config key 'task.module.warmup_frac' is {warmup_frac}; expected 0 <= value < 1"
            )
        self.target_norm, self.warmup_frac = bool(target_norm), float(warmup_frac)
        self.median_correction = MedianCorrection(**dict(median_correction or {}))
        self._val_rows: list[tuple[Tensor, Tensor, Tensor]] = []
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
        region = spec.region_field
        self.wanted = (*self.cell_fields, *self.cluster_fields, *([region] if region else []))
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
        out = self.model(self.features(batch))
        # test/predict: r → r / median validation response of its (E_pred, |η|) bin (not in training)
        if bool(self.median_correction.fitted) and not self.training:
            scale = self.median_correction(out[:, 0] * batch["E_cluster"].float(), batch["eta"].float())
            out = out / scale[:, None]
        return out

    def configure_optimizers(self) -> Any:
        if self.scheduler != "warmup_cosine":
            return super().configure_optimizers()
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.lr, weight_decay=self.weight_decay, **self.optimizer_kwargs()
        )
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(total, self.warmup_frac))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_fit_start(self) -> None:
        if bool(self.norm_fitted) or self.trainer is None or self.trainer.datamodule is None:
            return
        self.fit_standardisation(self.trainer.datamodule.train_dataloader())

    def fit_standardisation(self, batches: Iterable[Mapping[str, Tensor]]) -> None:
        """Input standardisation (and, with ``target_norm``, the r offset/scale) from the first
        ``norm_batches`` training batches."""
        cells, clusters, targets = [], [], []
        for i, batch in enumerate(batches):
            if i >= self.norm_batches:
                break
            batch = {k: v.to(self.device) for k, v in batch.items()}
            feats = self.features(batch)
            mask = feats[self.mask_field].bool()
            cells.append(torch.stack([feats[n].float() for n in self.cell_fields], -1)[mask])
            if self.cluster_fields:
                clusters.append(torch.stack([feats[n].float() for n in self.cluster_fields], -1))
            targets.append(self.target(batch))
        self.model.cell_norm.set(*_robust_moments(torch.cat(cells)))
        if clusters:
            self.model.cluster_norm.set(*_robust_moments(torch.cat(clusters)))
        if self.target_norm:  # median and IQR/1.349: the r tails would inflate mean and std
            q25, q50, q75 = torch.quantile(
                torch.cat(targets).double(), torch.tensor([0.25, 0.5, 0.75]).double()
            )
            self.model.out.set_target(float(q50), max(float(q75 - q25) / IQR_TO_SIGMA, 1e-4))
        self.norm_fitted.fill_(True)

    # --- residual median correction (fitted on the validation split, never on test) -----------
    # Refitted at the end of every validation epoch from that epoch's uncorrected validation
    # predictions, so each saved checkpoint carries the table matching its weights. Under DDP each
    # rank fits on its own validation shard (rank 0's table is the one tested and saved).
    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        raw = self.model(self.features(batch))  # uncorrected: the loss and the fit see the same r
        loss = self.compute_loss(raw, batch, "val")
        self.log("val/loss", loss, batch_size=raw.shape[0], sync_dist=True, prog_bar=True)
        if self.median_correction.enabled:
            e_cl = batch["E_cluster"].float()
            self._val_rows.append((raw[:, 0].detach() * e_cl, batch["E_true"].float(), batch["eta"].float()))

    def on_validation_epoch_start(self) -> None:
        self._val_rows: list[tuple[Tensor, Tensor, Tensor]] = []

    def on_validation_epoch_end(self) -> None:
        rows, self._val_rows = self._val_rows, []
        if not rows or (self.trainer is not None and self.trainer.sanity_checking):
            return
        self.median_correction.fit(*(torch.cat(col) for col in zip(*rows, strict=True)))

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


def warmup_cosine(total_steps: int, warmup_frac: float) -> Callable[[int], float]:
    """lr factor per optimizer step: linear warm-up over ``warmup_frac`` of the steps, then cosine to 0."""
    warm = round(warmup_frac * total_steps)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = min((step - warm) / max(total_steps - warm, 1), 1.0)
        return 0.5 * (1.0 + float(np.cos(np.pi * t)))

    return factor
