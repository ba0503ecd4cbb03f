"""ATLAS-style electron likelihood (LH), the classical baseline of the electron DNN (PHYSICS.md §3).

* L_{S,B}(x) = Π_i P_{S,B,i}(x_i) with 1-D smoothed PDFs per variable per (E_T, |η|) bin
  (:mod:`egml.baselines.likelihood_pdfs`); S = El ∪ CF, B = PC ∪ HF ∪ LFEg ∪ LFH, both filled
  with the physical-mix composition weights (not the uniform training mix).
* d = L_S/(L_S + L_B) and d' = −(1/15)·ln(d⁻¹ − 1). Since ln(d⁻¹ − 1) = ln L_B − ln L_S, d' is
  computed exactly as (ln L_S − ln L_B)/15, with no overflow for extreme likelihoods.
* Hit requirements: nSi ≥ 7 and nPix ≥ 2 for every working point, plus nBlayer ≥ 1 for Medium
  and Tight. Working points cut on d' per (E_T, |η|) bin so that signal (El ∪ CF, physical-mix
  weights) *after the hit requirements* has the target efficiency.
* PDFs and thresholds are fitted on the training split only (§0 rule 4).

Departure from §3: no linear interpolation of the PDFs in E_T (the tool's option); the PDF
smoothing is a Gaussian kernel on a fine histogram rather than an adaptive KDE.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from egml.baselines.likelihood_pdfs import smoothed_pdf, value_bin, variable_edges
from egml.evaluation.working_points import WorkingPointMap, fit_working_point
from egml.physics.discriminants import ELECTRON_CLASSES, PHYSICAL_MIX
from egml.physics.shower_shapes import menu_rhad
from egml.run.run_info import atomic_write_json

# PHYSICS.md §3 "ATLAS LH baseline": binning (E_T,cl in GeV; the open last edge is stored as 1e5
# because JSON has no infinity, and values beyond the edges fall in the edge bins)
LH_ET_EDGES: tuple[float, ...] = (4.5, 7.0, 10.0, 15.0, 20.0, 30.0, 40.0, 1.0e5)
LH_ABS_ETA_EDGES: tuple[float, ...] = (0.0, 0.1, 0.6, 0.8, 1.15, 1.37, 1.52, 1.81, 2.01, 2.37, 2.47)
# PHYSICS.md §3: LH variables; "Rhad_menu" is Rhad for 0.8 ≤ |η| < 1.37 and Rhad1 elsewhere (§2.3)
LH_VARIABLES: tuple[str, ...] = (
    "Rhad_menu",
    "f3",
    "Reta",
    "Rphi",
    "weta2",
    "f1",
    "Eratio",
    "deltaEta1",
    "deltaPhiRes",
    "dPOverP",
    "d0",
    "d0Sig",
    "trans_TRTPID",
)
# PHYSICS.md §3 rectangular hit requirements
N_SI_MIN, N_PIX_MIN, N_BLAYER_MIN = 7, 2, 1
DPRIME_TAU = 15.0  # d' = −(1/τ) ln(d⁻¹ − 1), τ = 15 (PHYSICS.md §3)
DEFAULT_TARGETS: dict[str, float] = {"loose": 0.93, "medium": 0.88, "tight": 0.80}  # §3, at 40 GeV
BLAYER_WPS = ("medium", "tight")
FAILED_HITS_SCORE = -1.0e6  # stands for "fails the hit requirements" when fitting thresholds
#: canonical fields the LH reads (besides the label)
LH_FIELDS: tuple[str, ...] = (
    "et",
    "eta",
    "Rhad1",
    "Rhad",
    *[v for v in LH_VARIABLES if v != "Rhad_menu"],
    "nSi",
    "nPix",
    "nBlayer",
)
FILE_NAME = "electron_likelihood.json"


def hit_requirements(columns: Mapping[str, NDArray], blayer: bool) -> NDArray[np.bool_]:
    """nSi ≥ 7, nPix ≥ 2 (and nBlayer ≥ 1 when ``blayer``)."""
    ok = (np.asarray(columns["nSi"]) >= N_SI_MIN) & (np.asarray(columns["nPix"]) >= N_PIX_MIN)
    return ok & (np.asarray(columns["nBlayer"]) >= N_BLAYER_MIN) if blayer else ok


def composition_weights(label: NDArray, classes: Sequence[int], mix: Mapping[str, float]) -> NDArray:
    """Per-row weights giving each class in ``classes`` its share of ``mix``, summing to the row count."""
    y = np.asarray(label).astype(np.int64)
    w = np.zeros(len(y))
    sel = np.isin(y, classes)
    total = sum(mix[ELECTRON_CLASSES[c]] for c in classes)
    counts = np.bincount(y[sel], minlength=len(ELECTRON_CLASSES))
    for c in classes:  # loop over classes only
        if counts[c]:
            w[y == c] = mix[ELECTRON_CLASSES[c]] / total * sel.sum() / counts[c]
    return w


class ElectronLikelihood:
    """Fit on training columns, predict d' and the Loose/Medium/Tight decisions; see module docstring."""

    def __init__(
        self,
        variables: Sequence[str] = LH_VARIABLES,
        n_bins: int = 50,
        smoothing: float = 1.0,
        prior_strength: float = 20.0,
        targets: Mapping[str, float] | None = None,
        min_entries: int = 100,
        class_mix: Mapping[str, float] | None = None,
        signal_classes: Sequence[int] = (0, 1),
        background_classes: Sequence[int] = (2, 3, 4, 5),
        label: str = "label",
    ) -> None:
        unknown = [v for v in variables if v not in LH_VARIABLES]
        if unknown or not variables:
            raise ValueError(f"likelihood variables {unknown or '[]'}; expected a subset of {LH_VARIABLES}")
        self.variables = tuple(variables)
        self.n_bins = int(n_bins)
        self.smoothing = float(smoothing)
        self.prior_strength = float(prior_strength)
        self.targets = dict(targets or DEFAULT_TARGETS)
        self.min_entries = int(min_entries)
        self.class_mix = dict(class_mix or PHYSICAL_MIX)
        self.signal_classes = tuple(int(c) for c in signal_classes)
        self.background_classes = tuple(int(c) for c in background_classes)
        self.label = label
        self.edges: dict[str, NDArray] = {}
        self.log_ratio: dict[str, NDArray] = {}  # ln P_S − ln P_B, (n_et, n_eta, n_bins)
        self.working_points: dict[str, WorkingPointMap] = {}

    # ------------------------------------------------------------------ inputs
    def _values(self, columns: Mapping[str, NDArray]) -> dict[str, NDArray]:
        missing = [f for f in LH_FIELDS if f not in columns]
        if missing:
            raise ValueError(f"likelihood needs fields {missing}; the columns hold {sorted(columns)}")
        out = {v: np.asarray(columns[v], dtype=np.float64) for v in self.variables if v != "Rhad_menu"}
        out["Rhad_menu"] = menu_rhad(columns["Rhad1"], columns["Rhad"], columns["eta"]).astype(np.float64)
        return out

    @staticmethod
    def _kin_index(columns: Mapping[str, NDArray]) -> tuple[NDArray, NDArray]:
        et = np.asarray(columns["et"], dtype=np.float64)
        abs_eta = np.abs(np.asarray(columns["eta"], dtype=np.float64))
        i = np.clip(np.searchsorted(LH_ET_EDGES, et, side="right") - 1, 0, len(LH_ET_EDGES) - 2)
        j = np.clip(
            np.searchsorted(LH_ABS_ETA_EDGES, abs_eta, side="right") - 1, 0, len(LH_ABS_ETA_EDGES) - 2
        )
        return i.astype(np.int64), j.astype(np.int64)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, columns: Mapping[str, NDArray]) -> ElectronLikelihood:
        """PDFs and per-bin d' thresholds from the training split."""
        y = np.asarray(columns[self.label]).astype(np.int64)
        sig, bkg = np.isin(y, self.signal_classes), np.isin(y, self.background_classes)
        if not sig.any() or not bkg.any():
            raise ValueError(
                f"likelihood fit: {int(sig.sum())} signal and {int(bkg.sum())} background rows; expected both > 0"
            )
        values = self._values(columns)
        et_i, eta_i = self._kin_index(columns)
        w_s = composition_weights(y, self.signal_classes, self.class_mix)
        w_b = composition_weights(y, self.background_classes, self.class_mix)
        shape = (len(LH_ET_EDGES) - 1, len(LH_ABS_ETA_EDGES) - 1)
        for name in self.variables:  # loop over the ~13 variables
            edges = variable_edges(values[name], self.n_bins)
            vb = value_bin(values[name], edges)
            pdfs = [
                smoothed_pdf(
                    vb[m], et_i[m], eta_i[m], w[m], self.n_bins, *shape, self.smoothing, self.prior_strength
                )
                for m, w in ((sig, w_s), (bkg, w_b))
            ]
            self.edges[name] = edges
            self.log_ratio[name] = np.log(pdfs[0]) - np.log(pdfs[1])
        self._fit_working_points(columns, sig | bkg, sig, w_s)
        return self

    def discriminant(self, columns: Mapping[str, NDArray]) -> NDArray[np.float64]:
        """d' = (ln L_S − ln L_B)/15 per row."""
        if not self.log_ratio:
            raise ValueError("ElectronLikelihood is not fitted; call fit() or load() first")
        values = self._values(columns)
        et_i, eta_i = self._kin_index(columns)
        total = np.zeros(len(et_i))
        for name in self.variables:
            total += self.log_ratio[name][et_i, eta_i, value_bin(values[name], self.edges[name])]
        return total / DPRIME_TAU

    def _fit_working_points(
        self, columns: Mapping[str, NDArray], use: NDArray, sig: NDArray, w: NDArray
    ) -> None:
        dprime = self.discriminant(columns)
        kin = {"et": np.asarray(columns["et"])[use], "abs_eta": np.abs(np.asarray(columns["eta"]))[use]}
        for wp, target in self.targets.items():
            hits = hit_requirements(columns, wp in BLAYER_WPS)
            score = np.where(hits, dprime, FAILED_HITS_SCORE)
            self.working_points[wp] = fit_working_point(
                score[use],
                sig[use],
                kin,
                {"et": LH_ET_EDGES, "abs_eta": LH_ABS_ETA_EDGES},
                float(target),
                weights=np.where(sig, w, 1.0)[use],
                min_entries=self.min_entries,
                name=f"lh_{wp}",
                score="lh_dprime",
            )

    def decisions(self, columns: Mapping[str, NDArray], dprime: NDArray | None = None) -> dict[str, NDArray]:
        """Pass/fail of every working point (hit requirements and the binned d' cut)."""
        d = self.discriminant(columns) if dprime is None else dprime
        kin = {"et": np.asarray(columns["et"]), "abs_eta": np.abs(np.asarray(columns["eta"]))}
        return {
            wp: hit_requirements(columns, wp in BLAYER_WPS) & m.apply(d, kin)
            for wp, m in self.working_points.items()
        }

    def predict(self, columns: Mapping[str, NDArray]) -> dict[str, NDArray]:
        """``lh_dprime``, ``lh_<wp>`` decisions and the hit flags ``lh_hits`` / ``lh_hits_blayer``."""
        d = self.discriminant(columns)
        out: dict[str, NDArray] = {"lh_dprime": d.astype(np.float32)}
        out.update({f"lh_{wp}": v.astype(np.int32) for wp, v in self.decisions(columns, d).items()})
        out["lh_hits"] = hit_requirements(columns, False).astype(np.int32)
        out["lh_hits_blayer"] = hit_requirements(columns, True).astype(np.int32)
        return out

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        return {
            "format": "egml-electron-likelihood",
            "version": 1,
            "variables": list(self.variables),
            "config": {
                "n_bins": self.n_bins,
                "smoothing": self.smoothing,
                "prior_strength": self.prior_strength,
                "targets": self.targets,
                "min_entries": self.min_entries,
                "class_mix": self.class_mix,
                "signal_classes": list(self.signal_classes),
                "background_classes": list(self.background_classes),
                "label": self.label,
            },
            "et_edges": list(LH_ET_EDGES),
            "abs_eta_edges": list(LH_ABS_ETA_EDGES),
            "edges": {k: v.tolist() for k, v in self.edges.items()},
            "log_ratio": {k: v.tolist() for k, v in self.log_ratio.items()},
            "working_points": {k: m.to_dict() for k, m in self.working_points.items()},
        }

    def save(self, directory: str | Path) -> Path:
        """Write the fitted LH (PDF log-ratios, binning, thresholds) as JSON, atomically."""
        path = Path(directory) / FILE_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, self.state())
        return path

    @classmethod
    def load(cls, path: str | Path) -> ElectronLikelihood:
        path = Path(path)
        state = json.loads((path / FILE_NAME if path.is_dir() else path).read_text())
        if state.get("format") != "egml-electron-likelihood":
            raise ValueError(f"{path}: format {state.get('format')!r}; expected 'egml-electron-likelihood'")
        obj = cls(variables=state["variables"], **state["config"])
        obj.edges = {k: np.asarray(v) for k, v in state["edges"].items()}
        obj.log_ratio = {k: np.asarray(v) for k, v in state["log_ratio"].items()}
        obj.working_points = {k: WorkingPointMap.from_dict(d) for k, d in state["working_points"].items()}
        return obj
