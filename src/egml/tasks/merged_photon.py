"""merged_photon: CMS ResNet tagger for merged photons from H → AA → 4γ (reference 002).

Labels are the generator's (PHYSICS.md §7, T3): 0 single photon, 1 merged photon (A → γγ),
2 QCD jet fake. Two modes:

- ``binary``: merged photon (1) against QCD fakes (2), one logit; loss ``mse`` on the sigmoid
  output (the reference's choice) or ``bce``. Single photons carry no loss.
- ``multiclass``: three logits in label order (single photon, merged photon, QCD fake),
  cross-entropy; the class is the one of maximum probability.

Every loss term carries the data module's per-sample weight (pT–η flattening, ``data.reweight``)
and is normalised by the summed weight. Signal candidates whose m_A is not one of
``train_masses`` have zero weight in the training *and* validation loss, so a sample holding
all six mass points trains on the configured ones only and the evaluation can test
interpolation to the others (the framework has one set of generator knobs for all splits).

``mass_balance=True`` (train/val loss only) re-weights the merged photons of each batch so that
every training mass carries the same summed weight (the batch's total signal weight is kept):
the preselection leaves fewer high-m_A candidates, which otherwise pulls the tagger towards the
low masses and tilts the efficiency vs m_A.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from egml.baselines.photon_bdt import MASS_TOLERANCE, PHOTON_ID_FEATURES
from egml.tasks.base import EgmlTask

MODES = ("binary", "multiclass")
BINARY_LOSSES = ("mse", "bce")
SINGLE_PHOTON, MERGED_PHOTON, QCD_FAKE = 0, 1, 2  # generator labels (PHYSICS.md §7, T3)
CLASS_NAMES = ("single_photon", "merged_photon", "qcd_fake")  # indexed by label
TRAIN_MASSES = (0.1, 0.4, 0.6, 1.0)  # GeV, reference 002 training points [S:R2]


class MergedPhotonTask(EgmlTask):
    name: ClassVar[str] = "merged_photon"
    passthrough_fields: ClassVar[tuple[str, ...]] = ("label", "A_mass", "pt", "eta", "weight")
    required_fields: ClassVar[tuple[str, ...]] = ("label", "A_mass", "pt", "eta", *PHOTON_ID_FEATURES)
    default_objective: ClassVar[str] = "test/sb_ratio_vs_baseline_medium"

    def __init__(
        self,
        model: nn.Module,
        normalization: Mapping[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str | None = None,
        mode: str = "binary",
        loss: str = "mse",
        train_masses: Sequence[float] = TRAIN_MASSES,
        evaluation: Mapping[str, Any] | None = None,
        mass_balance: bool = False,
    ) -> None:
        super().__init__(model, normalization, lr, weight_decay, scheduler)
        if mode not in MODES:
            raise ValueError(f"config key 'task.module.mode' is '{mode}'; expected one of {MODES}")
        if mode == "binary" and loss not in BINARY_LOSSES:
            raise ValueError(f"config key 'task.module.loss' is '{loss}'; expected one of {BINARY_LOSSES}")
        n_out = len(getattr(model, "output_names", ())) or None
        want = 1 if mode == "binary" else 3
        if n_out is not None and n_out != want:
            raise ValueError(
                f"task mode '{mode}' needs model.n_outputs={want}; the model has {n_out} outputs"
            )
        if not train_masses:
            raise ValueError("config key 'task.module.train_masses' is empty; expected m_A values in GeV")
        self.mode = mode
        self.loss_name = loss
        self.train_masses = tuple(float(m) for m in train_masses)
        self.register_buffer("train_mass_values", torch.tensor(self.train_masses, dtype=torch.float32))
        self.evaluation_cfg = dict(evaluation or {})
        self.mass_balance = bool(mass_balance)

    def loss_mask(self, batch: Mapping[str, Tensor], stage: str) -> Tensor:
        """1 for candidates entering the loss: right classes, signal at a training mass (train/val)."""
        label = batch["label"].long()
        keep = torch.ones_like(label, dtype=torch.bool)
        if self.mode == "binary":
            keep = (label == MERGED_PHOTON) | (label == QCD_FAKE)
        if stage != "test":
            mass = batch["A_mass"].float()
            at_point = (mass[:, None] - self.train_mass_values[None, :]).abs().min(
                dim=1
            ).values < MASS_TOLERANCE
            keep = keep & ((label != MERGED_PHOTON) | at_point)
        return keep.float()

    def balance_masses(self, w: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        """Signal weights rescaled so each training mass has an equal share of the batch's signal weight."""
        sig = batch["label"].long() == MERGED_PHOTON
        mass = batch["A_mass"].float()
        onehot = ((mass[:, None] - self.train_mass_values[None, :]).abs() < MASS_TOLERANCE) & sig[:, None]
        per_mass = (w[:, None] * onehot).sum(dim=0)  # (n_masses,)
        present = per_mass > 0
        if not present.any():
            return w
        share = per_mass.sum() / present.sum()
        factor = torch.where(present, share / per_mass.clamp_min(1e-12), torch.zeros_like(per_mass))
        scale = (onehot.float() * factor[None, :]).sum(dim=1)
        return torch.where(onehot.any(dim=1), w * scale, w)

    def compute_loss(self, outputs: Tensor, batch: Mapping[str, Tensor], stage: str) -> Tensor:
        label = batch["label"].long()
        weight = batch.get("weight")
        w = self.loss_mask(batch, stage) * (weight.float() if weight is not None else 1.0)
        if self.mass_balance and stage != "test":
            w = self.balance_masses(w, batch)
        if self.mode == "binary":
            target = (label == MERGED_PHOTON).float()
            logit = outputs[:, 0].float()
            if self.loss_name == "mse":
                per = (torch.sigmoid(logit) - target) ** 2
            else:
                per = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
        else:
            per = F.cross_entropy(outputs.float(), label.clamp(0, 2), reduction="none")
        return (per * w).sum() / w.sum().clamp_min(1e-12)

    def scores(self, outputs: Tensor, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        if self.mode == "binary":
            return {"score_merged_photon": torch.sigmoid(outputs[:, 0].float())}
        probs = torch.softmax(outputs.float(), dim=1)
        return {f"score_{name}": probs[:, i] for i, name in enumerate(CLASS_NAMES)}

    @classmethod
    def build_baseline(cls, cfg: Mapping[str, Any] | None) -> Any:
        """Standard photon ID (prompt γ vs fakes, the headline baseline) + the merged-photon re-trained BDT."""
        from egml.baselines.photon_bdt import PhotonIDBaselines

        cfg = dict(cfg or {})
        if cfg.pop("enabled", True) is False:
            return None
        return PhotonIDBaselines(**cfg)

    def evaluate(
        self,
        predictions: dict[str, np.ndarray],
        out_dir: Path,
        saved_working_points: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        from egml.tasks.merged_eval import evaluate_merged_photon

        metrics = evaluate_merged_photon(
            predictions,
            Path(out_dir),
            mode=self.mode,
            train_masses=self.train_masses,
            saved_working_points=saved_working_points,
            **self.evaluation_cfg,
        )
        return {**metrics, **input_set_metrics(getattr(self.model, "channels", ()), metrics)}


def input_set_name(channels: Sequence[str]) -> str:
    """Reference 002's input-layer sets: shower, track or shower_track (or the channel names)."""
    shower = "SC_energy" in channels
    track = any(c.startswith("Tracks") for c in channels)
    if shower and track:
        return "shower_track"
    return "shower" if shower else "track" if track else "+".join(channels)


def input_set_metrics(channels: Sequence[str], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``test/input_set`` and the AUCs per mass again as ``test/auc_<set>_m<mass>`` (ablation runs merge cleanly)."""
    name = input_set_name(tuple(channels))
    out: dict[str, Any] = {"test/input_set": name, "test/input_channels": ",".join(channels)}
    for key, value in metrics.items():
        if key.startswith("test/auc_m"):
            out[key.replace("test/auc_", f"test/auc_{name}_")] = value
    return out
