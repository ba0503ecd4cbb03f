"""The LightningModule every egml task derives from.

A task owns its model (a plain ``nn.Module``), its loss and its metrics; it never opens a
file. Batches are dicts of tensors keyed by canonical field names. Input normalisation is
held as buffers (so it travels in the checkpoint and the ONNX export), computed by the data
module on the training split only.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

import egml

#: checkpoint entry written by :meth:`EgmlTask.on_save_checkpoint`
CHECKPOINT_KEY = "egml"
#: plain attributes Lightning sets on the module around every hook it calls (≈ 40 times a
#: training step): :meth:`EgmlTask.__setattr__` stores them directly
_HOOK_ATTRIBUTES = frozenset({"_current_fx_name"})


class FieldNormalizer(nn.Module):
    """(x - mean) / std per field (clamped to ±clip where the statistics have one), as buffers."""

    def __init__(self, stats: Mapping[str, Mapping[str, Any]] | None) -> None:
        super().__init__()
        self.fields: list[str] = sorted(stats or {})
        for i, name in enumerate(self.fields):
            mean = torch.as_tensor(np.asarray(stats[name]["mean"], dtype=np.float32))
            std = torch.as_tensor(np.asarray(stats[name]["std"], dtype=np.float32))
            self.register_buffer(f"mean_{i}", mean)
            self.register_buffer(f"std_{i}", std)
        # the clip travels with the statistics dict (checkpoint entry), not as a state-dict buffer
        self.clips = [stats[name].get("clip") for name in self.fields]

    def stats(self) -> dict[str, dict[str, Any]]:
        """The statistics as plain lists (the form ``__init__`` takes; safe for ``weights_only`` loads)."""
        out = {}
        for i, name in enumerate(self.fields):
            out[name] = {
                "mean": getattr(self, f"mean_{i}").tolist(),
                "std": getattr(self, f"std_{i}").tolist(),
            }
            if self.clips[i] is not None:
                out[name]["clip"] = float(self.clips[i])
        return out

    def forward(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        out = dict(batch)
        for i, name in enumerate(self.fields):
            if name in out:
                x = (out[name] - getattr(self, f"mean_{i}")) / getattr(self, f"std_{i}")
                clip = self.clips[i]
                out[name] = x if clip is None else x.clamp(-clip, clip)
        return out


class EgmlTask(L.LightningModule):
    """Common training/validation/test loop; subclasses define loss, scores and evaluation."""

    name: ClassVar[str] = "task"
    #: canonical fields written to predictions.root beside the scores (label, kinematics, ...)
    passthrough_fields: ClassVar[tuple[str, ...]] = ()
    #: metric returned to sweepers when ``objective`` is not set
    default_objective: ClassVar[str] = "test/loss"

    def __init__(
        self,
        model: nn.Module,
        normalization: Mapping[str, Mapping[str, Any]] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.normalizer = FieldNormalizer(normalization)
        self.lr = lr
        self.weight_decay = weight_decay
        self.scheduler = scheduler
        self._test_outputs: list[dict[str, np.ndarray]] = []
        self.test_predictions: dict[str, np.ndarray] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning names the running hook in ``_current_fx_name`` before and after each hook
        # call; a str or None is never a parameter, buffer or submodule, so nn.Module's
        # registration checks (≈ 2.5 µs a call, ≈ 0.1 ms a step) can be skipped for it
        if name in _HOOK_ATTRIBUTES and (value is None or type(value) is str):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # --- to be defined by each task ---------------------------------------------------------
    def forward(self, batch: Mapping[str, Tensor]) -> Any:
        return self.model(self.normalizer(batch))

    def compute_loss(self, outputs: Any, batch: Mapping[str, Tensor], stage: str) -> Tensor:
        raise NotImplementedError

    def scores(self, outputs: Any, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Per-candidate network outputs to save (probabilities, discriminants, energies)."""
        raise NotImplementedError

    def evaluate(
        self,
        predictions: dict[str, np.ndarray],
        out_dir: Path,
        saved_working_points: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Metrics (network and baseline side by side) and plots from the test predictions.

        At training the task fits its working points (``<out_dir>/working_points.json``); the
        eval stage passes the maps saved at training as ``saved_working_points``, which are then
        applied, never re-fitted. Decisions go into ``predictions`` as :meth:`working_point_column`.
        """
        raise NotImplementedError

    # --- reuse of a trained task (eval/predict/export stages) -------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # what the eval stage needs to rebuild the task before load_state_dict, in plain types
        checkpoint[CHECKPOINT_KEY] = {
            "task": self.name,
            "egml_version": egml.__version__,  # a checkpoint copied out of its run dir still says
            "normalization": self.normalizer.stats(),
        }

    def working_point_column(self, key: str) -> str:
        """predictions.root branch of the decisions of working point ``key`` (the key in
        working_points.json): ``wp_<key>`` for the network, ``baseline_wp_<wp>`` for a key
        ``baseline_<wp>`` (a baseline's map fitted by the task's evaluation); same in every task."""
        if key.startswith("baseline_"):
            return f"baseline_wp_{key.removeprefix('baseline_')}"
        return f"wp_{key}"

    def apply_working_points(
        self, predictions: Mapping[str, np.ndarray], maps: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        """Decisions (int32 0/1) of working-point maps fitted at training (never re-derived).

        Each map's score and bin variables must be prediction columns (``abs_X`` is read as
        ``|X|``). Tasks whose maps use a derived score or other column names override this or
        :meth:`working_point_column`.
        """
        out = {}
        for key, wp in maps.items():
            if wp.score not in predictions:
                raise ValueError(
                    f"working point '{key}' cuts on '{wp.score}', which is not a prediction column; "
                    f"expected one of {sorted(predictions)}"
                )
            out[self.working_point_column(key)] = wp.apply(predictions[wp.score], predictions).astype(
                np.int32
            )
        return out

    # --- the shared loop ----------------------------------------------------------------------
    def _step(self, batch: Mapping[str, Tensor], stage: str) -> tuple[Any, Tensor]:
        outputs = self(batch)
        loss = self.compute_loss(outputs, batch, stage)
        if self.logs_this_step(stage):
            n = next(iter(batch.values())).shape[0]
            self.log(
                f"{stage}/loss", loss, prog_bar=stage != "test", batch_size=n, sync_dist=stage != "train"
            )
        return outputs, loss

    def logs_this_step(self, stage: str) -> bool:
        """Whether ``stage``'s per-step metrics reach the logger now: always in validation and test
        (epoch means), every ``trainer.log_every_n_steps`` in training. Training metrics are logged
        per step only, so the skipped calls lose nothing; each ``self.log`` costs ≈ 2 ms of
        bookkeeping, ≈ 5 % of a small DNN's CPU step."""
        connector = getattr(self._trainer, "_logger_connector", None) if stage == "train" else None
        return connector is None or bool(connector.should_update_logs)

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")[1]

    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        outputs, _ = self._step(batch, "test")
        self._collect(outputs, batch)

    def predict_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> dict[str, np.ndarray]:
        return self._to_numpy(self.scores(self(batch), batch), batch)

    def on_test_epoch_start(self) -> None:
        self._test_outputs = []

    def _to_numpy(self, scores: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> dict[str, np.ndarray]:
        row = {k: v.detach().float().cpu().numpy() for k, v in scores.items()}
        for field in self.passthrough_fields:
            if field in batch:
                row[field] = batch[field].detach().cpu().numpy()
        return row

    def _collect(self, outputs: Any, batch: Mapping[str, Tensor]) -> None:
        self._test_outputs.append(self._to_numpy(self.scores(outputs, batch), batch))

    def on_test_epoch_end(self) -> None:
        self.test_predictions = concat_rows(self._test_outputs)
        self._test_outputs = []

    def optimizer_kwargs(self) -> dict[str, Any]:
        """``fused=True`` for Adam/AdamW where torch has the fused kernel: one pass over all
        parameters per step instead of ~10 small ops per tensor (on a CPU ≈ 4× cheaper, 2 ms of a
        small DNN's 11 ms step). Not with 16-bit AMP plus gradient clipping: Lightning must unscale
        the gradients before clipping, which a fused optimizer does inside ``step``."""
        trainer = self._trainer
        if trainer is not None and trainer.gradient_clip_val and str(trainer.precision).startswith("16"):
            return {}
        params = list(self.parameters())
        fusable = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
        return {"fused": True} if params and fusable else {}

    def configure_optimizers(self) -> Any:
        opt = torch.optim.Adam(
            self.parameters(), lr=self.lr, weight_decay=self.weight_decay, **self.optimizer_kwargs()
        )
        if self.scheduler == "cosine":
            max_epochs = max(int(self.trainer.max_epochs or 1), 1)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs)
            return {"optimizer": opt, "lr_scheduler": sched}
        if self.scheduler not in (None, "none"):
            raise ValueError(
                f"config key 'task.module.scheduler' is '{self.scheduler}'; expected null or 'cosine'"
            )
        return opt


# Lightning reads training_step's signature before every step (does it take ``batch_idx``?);
# inspect builds it anew each time (≈ 30 µs) unless the function carries it: the same
# signature, computed once
EgmlTask.training_step.__signature__ = inspect.signature(EgmlTask.training_step)  # type: ignore[attr-defined]


def concat_rows(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not rows:
        return {}
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
