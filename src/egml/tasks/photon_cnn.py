"""photon_cnn: ATLAS photon identification from LAr cell images (reference 000).

Loss: per-sample weighted BCE on every output (the weights carry the pT reweighting of
background to signal); with ``heads="disco"`` the DisCo terms of approach #2 are added.
Evaluation (``egml.tasks.photon_eval``) compares the network with the re-optimised cut-based
menu at matched background rejection.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from egml.losses.decorrelated_bce import disco_multi_output_loss, weighted_bce_with_logits
from egml.tasks.base import EgmlTask

SHOWER_SHAPES = (
    "Rhad1",
    "Rhad",
    "Reta",
    "Rphi",
    "weta2",
    "f1",
    "f3",
    "fracs1",
    "weta1",
    "wtots1",
    "Eratio",
    "deltae",
    "e277",
)
ISOLATION = ("ptcone20", "ptcone40", "topoetcone20", "topoetcone40")


class PhotonCNNTask(EgmlTask):
    name: ClassVar[str] = "photon_cnn"
    passthrough_fields: ClassVar[tuple[str, ...]] = (
        "label",
        "pt",
        "eta",
        "conv_type",
        "weight",
        "truth_type",
        *ISOLATION,
        *SHOWER_SHAPES,
    )
    default_objective: ClassVar[str] = "test/eff_at_tight_rej"

    def __init__(
        self,
        model: nn.Module,
        normalization: Mapping[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str | None = None,
        lambda_iso: float = 0.0,
        lambda_orthogonal: float = 0.0,
        disco_background_only: bool = True,
        evaluation: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, normalization, lr, weight_decay, scheduler)
        self.output_names: tuple[str, ...] = tuple(getattr(model, "output_names", ("combined",)))
        self.lambda_iso = lambda_iso
        self.lambda_orthogonal = lambda_orthogonal
        self.disco_background_only = disco_background_only
        self.evaluation_cfg = dict(evaluation or {})
        if (lambda_iso or lambda_orthogonal) and len(self.output_names) != 3:
            raise ValueError("config keys 'task.module.lambda_*' need model.heads=disco (three outputs)")

    def compute_loss(self, outputs: Tensor, batch: Mapping[str, Tensor], stage: str) -> Tensor:
        label = batch["label"].float()
        weight = batch.get("weight")
        if self.output_names == ("combined", "iso_decorrelated", "orthogonal"):
            parts = disco_multi_output_loss(
                outputs,
                label,
                batch["ptcone40"],
                weight,
                lambda_iso=self.lambda_iso,
                lambda_orthogonal=self.lambda_orthogonal,
                background_only=self.disco_background_only,
            )
            if self.logs_this_step(stage):
                for key in ("bce", "disco_iso", "disco_orth"):
                    self.log(
                        f"{stage}/{key}", parts[key], batch_size=label.shape[0], sync_dist=stage != "train"
                    )
            return parts["loss"]
        return sum(weighted_bce_with_logits(outputs[:, i], label, weight) for i in range(outputs.shape[1]))

    def scores(self, outputs: Tensor, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        probs = torch.sigmoid(outputs.float())
        return {f"score_{name}": probs[:, i] for i, name in enumerate(self.output_names)}

    @classmethod
    def build_baseline(cls, cfg: Mapping[str, Any] | None) -> Any:
        from egml.baselines.cut_based import CutBasedPhotonID

        return CutBasedPhotonID(**dict(cfg or {}))

    def evaluate(
        self,
        predictions: dict[str, np.ndarray],
        out_dir: Path,
        saved_working_points: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        from egml.tasks.photon_eval import evaluate_photon_id

        return evaluate_photon_id(
            predictions,
            self.output_names,
            out_dir,
            saved_working_points=saved_working_points,
            **self.evaluation_cfg,
        )
