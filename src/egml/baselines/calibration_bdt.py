"""GBDT energy calibration baseline: the ATLAS MVA calibration on the inputs of PHYSICS.md §5.

One XGBoost regressor per particle type (0 e±, 1 unconverted γ, 2 converted γ, the types present
in the training split), regressing r = E_true/E_acc with E_acc = E1 + E2 + E3, so that
E_gbdt = r̂·E_acc. Inputs (§5, the ATLAS MVA variables [S:8]): E_acc, E0/E_acc, R12 = E1/E2,
η_cl, |η_cl|, η_calo, φ_calo, cellIndexCalo = ⌊|η_calo|/0.025⌋, etaModCalo = |η_calo| mod 0.025,
phiModCalo = φ_calo mod π/512 (|η_calo| < 1.425) or π/384, E_TG3/E_acc; for converted γ also
convR, convEtOverPt, convPtRatio. E and |η| enter as inputs instead of ~100 separate (E, η) bins
(§5 allows either). Trained on the training split only, with the last ``validation_fraction`` of
it held out for early stopping; the same squared-error objective as the network's MSE loss.
Models are saved in XGBoost's JSON format (atomic writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from egml.run.run_info import atomic_write_json, atomic_write_text

#: canonical fields the baseline reads (besides ``E_true`` for the target and ``particle_type``)
GBDT_FIELDS = ("E0", "E1", "E2", "E3", "E_TG3", "eta", "eta_calo", "phi_calo")
CONVERSION_FIELDS = ("conv_R", "conv_et_over_pt", "conv_pt_ratio")
CELL_ETA_PITCH = 0.025  # L2 cell size in η (PHYSICS.md §1.2)
ACCORDION_PHI_PERIOD = {"barrel": np.pi / 512, "endcap": np.pi / 384}  # §5 (f) φ modulation
BARREL_ETA_CALO = 1.425  # §5 phiModCalo: barrel period below this |η_calo|
CONVERTED = 2
BASE_FEATURES = (
    "E_acc",
    "E0_over_Eacc",
    "R12",
    "eta",
    "abs_eta",
    "eta_calo",
    "phi_calo",
    "cellIndexCalo",
    "etaModCalo",
    "phiModCalo",
    "ETG3_over_Eacc",
)
MANIFEST = "calibration_bdt.json"


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), 0.0).astype(np.float32)


def mva_features(columns: Mapping[str, np.ndarray], converted: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(N, F)`` float32 matrix of the §5 MVA inputs and the feature names."""
    missing = [f for f in (*GBDT_FIELDS, *(CONVERSION_FIELDS if converted else ())) if f not in columns]
    if missing:
        raise ValueError(f"CalibrationBDT: columns lack {missing}; expected the PHYSICS.md §5 MVA inputs")
    c = {
        k: np.asarray(columns[k], dtype=np.float32)
        for k in (*GBDT_FIELDS, *CONVERSION_FIELDS)
        if k in columns
    }
    e_acc = c["E1"] + c["E2"] + c["E3"]
    abs_calo = np.abs(c["eta_calo"])
    period = np.where(
        abs_calo < BARREL_ETA_CALO, ACCORDION_PHI_PERIOD["barrel"], ACCORDION_PHI_PERIOD["endcap"]
    )
    cols = [
        e_acc,
        _div(c["E0"], e_acc),
        _div(c["E1"], c["E2"]),
        c["eta"],
        np.abs(c["eta"]),
        c["eta_calo"],
        c["phi_calo"],
        np.floor(abs_calo / CELL_ETA_PITCH),
        np.mod(abs_calo, CELL_ETA_PITCH),
        np.mod(c["phi_calo"], period),
        _div(c["E_TG3"], e_acc),
    ]
    names = BASE_FEATURES
    if converted:
        cols += [c[k] for k in CONVERSION_FIELDS]
        names = (*names, "convR", "convEtOverPt", "convPtRatio")
    return np.stack(cols, axis=1).astype(np.float32), names


def accordion_energy(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """E_acc = E1 + E2 + E3 (GeV)."""
    return (np.asarray(columns["E1"]) + np.asarray(columns["E2"]) + np.asarray(columns["E3"])).astype(
        np.float32
    )


def _best_range(booster: Any) -> tuple[int, int]:
    """Trees up to the early-stopping optimum (all trees without early stopping)."""
    best = booster.attr("best_iteration")
    return (0, int(best) + 1) if best is not None else (0, booster.num_boosted_rounds())


class CalibrationBDT:
    """Per-particle-type GBDT regression of E_true/E_acc (see the module docstring)."""

    def __init__(
        self,
        n_estimators: int = 600,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        min_child_weight: float = 10.0,
        subsample: float = 0.8,
        validation_fraction: float = 0.1,
        early_stopping_rounds: int = 30,
        n_jobs: int = 2,
        seed: int = 0,
        target: str = "E_true",
        type_field: str = "particle_type",
    ) -> None:
        if not 0.0 <= validation_fraction < 0.5:
            raise ValueError(f"validation_fraction={validation_fraction}; expected 0 <= value < 0.5")
        self.n_estimators = int(n_estimators)
        self.params = {  # xgboost.train parameters (native API: no scikit-learn needed)
            "max_depth": int(max_depth),
            "eta": float(learning_rate),
            "min_child_weight": float(min_child_weight),
            "subsample": float(subsample),
            "nthread": int(n_jobs),
            "seed": int(seed),
            "tree_method": "hist",
            "objective": "reg:squarederror",
        }
        self.validation_fraction = float(validation_fraction)
        self.early_stopping_rounds = int(early_stopping_rounds)
        self.target, self.type_field = target, type_field
        self.models: dict[int, Any] = {}

    def _types(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        n = len(np.asarray(columns["E1"]))
        return (
            np.asarray(columns[self.type_field]).astype(np.int64)
            if self.type_field in columns
            else np.ones(n, int)
        )

    def fit(self, columns: Mapping[str, np.ndarray]) -> CalibrationBDT:
        import xgboost as xgb

        if self.target not in columns:
            raise ValueError(f"CalibrationBDT.fit: columns lack the target field {self.target!r}")
        e_acc = accordion_energy(columns)
        types = self._types(columns)
        ok = e_acc > 0
        r = _div(np.asarray(columns[self.target], dtype=np.float32), e_acc)
        self.models = {}
        for t in np.unique(types[ok]):  # at most three particle types
            rows = np.flatnonzero(ok & (types == t))
            x, _ = mva_features({k: np.asarray(v)[rows] for k, v in columns.items()}, int(t) == CONVERTED)
            n_val = int(self.validation_fraction * len(rows))
            if len(rows) - n_val < 2:
                raise ValueError(
                    f"CalibrationBDT.fit: {len(rows)} training entries of type {t}; expected more"
                )
            n_fit = len(rows) - n_val
            dtrain = xgb.DMatrix(x[:n_fit], label=r[rows][:n_fit])
            kw: dict[str, Any] = {"num_boost_round": self.n_estimators, "verbose_eval": False}
            if n_val >= 1 and self.early_stopping_rounds > 0:
                kw["evals"] = [(xgb.DMatrix(x[n_fit:], label=r[rows][n_fit:]), "holdout")]
                kw["early_stopping_rounds"] = self.early_stopping_rounds
            model = xgb.train(self.params, dtrain, **kw)
            self.models[int(t)] = model
        return self

    def predict(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.models:
            raise ValueError("CalibrationBDT.predict called before fit")
        import xgboost as xgb

        e_acc = accordion_energy(columns)
        types = self._types(columns)
        unknown = sorted(set(np.unique(types).tolist()) - set(self.models))
        if unknown:
            raise ValueError(
                f"CalibrationBDT.predict: particle types {unknown} were not in the training split"
            )
        r = np.zeros(len(e_acc), np.float32)
        for t, model in self.models.items():
            rows = np.flatnonzero(types == t)
            if rows.size:
                x, _ = mva_features({k: np.asarray(v)[rows] for k, v in columns.items()}, t == CONVERTED)
                r[rows] = model.predict(xgb.DMatrix(x), iteration_range=_best_range(model))
        return {"r_gbdt": r, "E_gbdt": (r * e_acc).astype(np.float32)}

    def save(self, directory: Path) -> Path:
        """XGBoost JSON per particle type plus a manifest (features, parameters), written atomically."""
        directory = Path(directory)
        files = {}
        for t, model in self.models.items():
            name = f"calibration_bdt_type{t}.json"
            atomic_write_text(directory / name, bytes(model.save_raw("json")).decode())
            files[str(t)] = {
                "file": name,
                "features": list(mva_features({k: np.zeros(1) for k in (*GBDT_FIELDS, *CONVERSION_FIELDS)},
                                              t == CONVERTED)[1]),
                "n_trees": _best_range(model)[1],
            }  # fmt: skip
        path = directory / MANIFEST
        atomic_write_json(
            path, {"target": "E_true/E_acc", "E_acc": "E1+E2+E3", "params": self.params, "models": files}
        )
        return path

    @classmethod
    def load(cls, directory: Path) -> CalibrationBDT:
        import json

        import xgboost as xgb

        manifest = json.loads((Path(directory) / MANIFEST).read_text())
        obj = cls()
        for t, entry in manifest["models"].items():
            model = xgb.Booster(model_file=str(Path(directory) / entry["file"]))
            obj.models[int(t)] = model
        return obj
