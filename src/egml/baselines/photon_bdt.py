"""Standard CMS photon-ID BDT: a gradient-boosted-tree classifier on the §4 photon variables.

Inputs are the "standard photon-ID BDT" variables of PHYSICS.md §4 [S:C3]: SC raw energy, full5×5
R9, σiηiη, σiηiφ, s4, SC η/φ widths, SC η, ρ, PF photon isolation, PF charged isolation (chosen
and worst vertex) and neutral isolation. The classifier is XGBoost (histogram trees), fitted on
the training split the network sees, with the same selection of classes and training masses and
the same pT–η reweighting as the network (``data.reweight``) so that the comparison is like for like.

Two classifiers are trained (:class:`PhotonIDBaselines`, the task's ``baseline``):

- ``standard`` — the *standard CMS photon ID* of reference 002's comparison: trained on prompt
  single photons (label 0) against QCD fakes (label 2). Its score is ``baseline_score`` and the
  headline ``test/sb_ratio_vs_baseline_<wp>`` divides by its S/B.
- ``retrained`` — the same GBDT *re-trained for the merged-photon task* (merged photons, label 1,
  at the training masses, against QCD fakes): a stronger baseline than the reference's, score
  ``baseline_retrained_score``, ratios ``test/sb_ratio_vs_retrained_bdt_<wp>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from egml.atomic import atomic_write_text

#: canonical field names (data.branch_map) of the PHYSICS.md §4 photon-ID inputs
PHOTON_ID_FEATURES = (
    "Eraw",
    "r9",
    "sieie",
    "sieip",
    "s4",
    "etaWidth",
    "phiWidth",
    "scEta",
    "rho",
    "phoIso",
    "chgIso",
    "chgIsoWrongVtx",
    "neuIso",
)
MASS_TOLERANCE = 1e-3  # GeV: matching of stored float32 A_mass to the configured mass points


def mass_point_mask(mass: np.ndarray, masses: Sequence[float] | None) -> np.ndarray:
    """True where ``mass`` equals one of ``masses`` (all True when ``masses`` is None)."""
    m = np.asarray(mass, dtype=np.float64).ravel()
    if masses is None:
        return np.ones(m.shape, bool)
    ref = np.asarray(list(masses), dtype=np.float64)
    return (np.abs(m[:, None] - ref[None, :]) < MASS_TOLERANCE).any(axis=1)


def training_rows(
    label: np.ndarray,
    mass: np.ndarray,
    signal_labels: Sequence[int],
    background_labels: Sequence[int],
    train_masses: Sequence[float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(rows used in training, their binary target): signal restricted to the training masses."""
    label = np.asarray(label).astype(np.int64).ravel()
    sig = np.isin(label, np.asarray(signal_labels))
    bkg = np.isin(label, np.asarray(background_labels))
    use = bkg | (sig & mass_point_mask(mass, train_masses))
    return use, sig


class PhotonIDBDT:
    """XGBoost photon ID on the §4 variables; ``fit``/``predict``/``save`` as the train stage expects."""

    def __init__(
        self,
        features: Sequence[str] = PHOTON_ID_FEATURES,
        signal_labels: Sequence[int] = (1,),
        background_labels: Sequence[int] = (2,),
        train_masses: Sequence[float] | None = (0.1, 0.4, 0.6, 1.0),
        reweight: Mapping[str, Any] | None = None,
        n_estimators: int = 300,
        max_depth: int = 4,
        learning_rate: float = 0.1,
        subsample: float = 0.8,
        seed: int = 0,
        n_jobs: int = 1,
        score_name: str = "baseline_score",
    ) -> None:
        if not features:
            raise ValueError("PhotonIDBDT features is empty; expected the §4 photon variables")
        if set(signal_labels) & set(background_labels):
            raise ValueError(
                f"PhotonIDBDT signal_labels {list(signal_labels)} and background_labels "
                f"{list(background_labels)} overlap; expected disjoint label sets"
            )
        self.features = tuple(features)
        self.signal_labels = tuple(int(x) for x in signal_labels)
        self.background_labels = tuple(int(x) for x in background_labels)
        self.train_masses = None if train_masses is None else tuple(float(m) for m in train_masses)
        self.reweight = dict(reweight) if reweight else None
        self.params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "max_depth": int(max_depth),
            "eta": float(learning_rate),
            "subsample": float(subsample),
            "seed": int(seed),
            "nthread": int(n_jobs),
        }
        self.n_estimators = int(n_estimators)
        self.score_name = score_name
        self.booster: Any = None
        self.filename = "photon_id_bdt.json"

    def matrix(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """(N, n_features) float32 design matrix; NaN is XGBoost's missing value."""
        missing = [f for f in self.features if f not in columns]
        if missing:
            raise ValueError(
                f"PhotonIDBDT: column '{missing[0]}' is missing; expected fields {list(self.features)}"
            )
        return np.stack([np.asarray(columns[f], dtype=np.float32).ravel() for f in self.features], axis=1)

    def sample_weights(self, columns: Mapping[str, np.ndarray], target: np.ndarray) -> np.ndarray:
        """pT–η weights as the data module's ``data.reweight`` (``target`` flat or signal; default flat), else 1."""
        n = target.shape[0]
        if self.reweight is None:
            return np.ones(n, np.float32)
        from egml.data.reweighting import Reweighter

        variables = list(self.reweight["variables"])
        edges = self.reweight["edges"]
        pt = np.asarray(columns[variables[0]])
        eta = np.asarray(columns[variables[1]]) if len(variables) > 1 else None
        rw = Reweighter.fit(
            pt,
            target.astype(np.int64),
            eta,
            signal_labels=(1,),
            target=str(self.reweight.get("target") or "flat"),
            pt_bins=list(edges[variables[0]]),
            eta_bins=list(edges[variables[1]]) if eta is not None else None,
        )
        return rw.weights(pt, target.astype(np.int64), eta)

    def fit(self, columns: Mapping[str, np.ndarray]) -> PhotonIDBDT:
        import xgboost as xgb

        for key in ("label", "A_mass"):
            if key not in columns:
                raise ValueError(f"PhotonIDBDT.fit: column '{key}' is missing; expected label and A_mass")
        use, sig = training_rows(
            columns["label"], columns["A_mass"], self.signal_labels, self.background_labels, self.train_masses
        )
        if not (use & sig).any() or not (use & ~sig).any():
            raise ValueError("PhotonIDBDT.fit: the training split lacks signal or background rows")
        sub = {k: np.asarray(v)[use] for k, v in columns.items() if np.ndim(v) == 1}
        target = sig[use].astype(np.float32)
        dtrain = xgb.DMatrix(
            self.matrix(sub),
            label=target,
            weight=self.sample_weights(sub, target),
            feature_names=list(self.features),
        )
        self.booster = xgb.train(self.params, dtrain, num_boost_round=self.n_estimators)
        return self

    def predict(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import xgboost as xgb

        if self.booster is None:
            raise ValueError("PhotonIDBDT.predict called before fit; expected a fitted model")
        data = xgb.DMatrix(self.matrix(columns), feature_names=list(self.features))
        return {self.score_name: self.booster.predict(data).astype(np.float32)}

    def save(self, directory: Path) -> Path:
        """XGBoost JSON model, written atomically (temp file + rename)."""
        if self.booster is None:
            raise ValueError("PhotonIDBDT.save called before fit; expected a fitted model")
        path = Path(directory) / self.filename
        atomic_write_text(path, bytes(self.booster.save_raw("json")).decode())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> PhotonIDBDT:
        import xgboost as xgb

        model = cls(**kwargs)
        model.booster = xgb.Booster()
        model.booster.load_model(str(path))
        return model


#: which classifier is which (signal/background labels and training masses); the rest is shared
STANDARD_ID = {"signal_labels": (0,), "background_labels": (2,), "train_masses": None}
RETRAINED_ID = {"signal_labels": (1,), "background_labels": (2,), "train_masses": (0.1, 0.4, 0.6, 1.0)}


class PhotonIDBaselines:
    """The standard photon ID (prompt γ vs fakes) and, optionally, the merged-photon re-trained BDT.

    ``standard``/``retrained`` hold each classifier's own keys (``signal_labels``,
    ``background_labels``, ``train_masses``); every other keyword (trees, reweighting, seed) is
    shared. ``retrained=None`` trains the standard ID only. Files: ``photon_id_bdt.json``
    (standard) and ``photon_id_bdt_retrained.json`` in the baseline directory.
    """

    def __init__(
        self,
        standard: Mapping[str, Any] | None = None,
        retrained: Mapping[str, Any] | None = None,
        **shared: Any,
    ) -> None:
        shared.pop("score_name", None)
        self.standard = PhotonIDBDT(**{**STANDARD_ID, **dict(standard or {}), **shared})
        self.retrained = None
        if retrained is not None:
            self.retrained = PhotonIDBDT(
                **{**RETRAINED_ID, **dict(retrained), **shared}, score_name="baseline_retrained_score"
            )
            self.retrained.filename = "photon_id_bdt_retrained.json"

    def members(self) -> list[PhotonIDBDT]:
        return [m for m in (self.standard, self.retrained) if m is not None]

    def fit(self, columns: Mapping[str, np.ndarray]) -> PhotonIDBaselines:
        for m in self.members():
            m.fit(columns)
        return self

    def predict(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: v for m in self.members() for k, v in m.predict(columns).items()}

    def save(self, directory: Path) -> Path:
        for m in self.members():
            m.save(directory)
        return Path(directory)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], **kwargs: Any) -> PhotonIDBaselines:
        """Both boosters from a ``save`` directory (the retrained one only when its file exists)."""
        import xgboost as xgb

        directory = Path(directory)
        kwargs.pop("enabled", None)
        model = cls(**kwargs)
        if model.retrained is not None and not (directory / model.retrained.filename).is_file():
            model.retrained = None  # a run trained before the retrained BDT existed, or with it off
        for m in model.members():
            path = directory / m.filename
            if not path.is_file():
                raise ValueError(
                    f"photon-ID baseline: {path} is missing; expected the file written at training"
                )
            m.booster = xgb.Booster()
            m.booster.load_model(str(path))
        return model
