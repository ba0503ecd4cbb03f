"""Plots of the merged-photon evaluation (:mod:`egml.tasks.merged_eval`): ROC, scores,
efficiency vs m_A, p_T and |η| per working point, S/B vs m_A, confusion matrix (multiclass)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from egml.baselines.photon_bdt import mass_point_mask
from egml.evaluation.plots import PlotWriter
from egml.evaluation.plots import binomial_efficiency as binned_efficiency
from egml.evaluation.roc import binomial_efficiency, roc_curve
from egml.tasks.merged_eval import MATRIX_NAMES, MATRIX_ORDER, MERGED_PHOTON, QCD_FAKE, mass_tag

PLOT_NAMES = {
    "test": "ResNet tagger",
    "baseline": "standard photon ID",
    "baseline_retrained": "re-trained photon-ID BDT",
}


def decision_column(prefix: str, wp: str) -> str:
    """predictions column of the WP decisions of ``prefix`` (test, baseline, baseline_retrained)."""
    return f"wp_{wp}" if prefix == "test" else f"baseline_wp{prefix.removeprefix('baseline')}_{wp}"


def merged_photon_plots(
    plots: PlotWriter,
    scores: Mapping[str, np.ndarray],
    label: np.ndarray,
    mass: np.ndarray,
    calib: np.ndarray,
    metrics: Mapping[str, Any],
    masses: Sequence[float],
    targets: Mapping[str, float],
    mode: str,
    predictions: Mapping[str, np.ndarray],
) -> None:
    names = PLOT_NAMES
    sig, bkg = label == MERGED_PHOTON, label == QCD_FAKE
    both = sig | bkg
    curves = {}
    for prefix, s in scores.items():
        roc = roc_curve(s[both], sig[both])
        curves[names[prefix]] = (roc.signal_efficiency, roc.background_efficiency)
        plots.scores(
            {
                "merged photon": (s[sig], None),
                "QCD fake": (s[bkg], None),
                "single photon": (s[label == 0], None),
            },
            name="scores" if prefix == "test" else f"scores_{prefix}",
            xlabel=f"{names[prefix]} score",
        )
    plots.roc(curves, name="roc")
    centres = np.asarray(sorted(masses), dtype=np.float64)
    edges = np.r_[centres[0] - 0.05, 0.5 * (centres[1:] + centres[:-1]), centres[-1] + 0.1]
    meas = ~calib
    for wp in targets:
        series = {}
        for prefix in scores:
            passed = predictions[decision_column(prefix, wp)].astype(bool)
            sel = meas & sig
            eff = np.full(len(centres), np.nan)
            err = np.full(len(centres), np.nan)
            for i, mt in enumerate(centres):  # loop over a handful of mass points
                rows = sel & mass_point_mask(mass, [mt])
                if rows.any():
                    eff[i], err[i] = binomial_efficiency(passed[rows])
            series[f"{names[prefix]} {wp}"] = (eff, err)
        plots.efficiency_vs("m_A [GeV]", edges, series, name=f"efficiency_vs_mA_{wp}")
        _efficiency_vs_kinematics(plots, predictions, scores, meas & sig, wp, names)
    _sb_vs_mass(plots, metrics, centres, targets, scores)
    if mode == "multiclass":
        matrix = np.array(
            [
                [metrics[f"test/confusion_{MATRIX_NAMES[t]}_as_{MATRIX_NAMES[p]}"] for p in MATRIX_ORDER]
                for t in MATRIX_ORDER
            ]
        )
        labels = ["QCD fake", "merged photon", "single photon"]
        plots.matrix(matrix, labels, labels, name="confusion_matrix")


def _sb_vs_mass(
    plots: PlotWriter,
    metrics: Mapping[str, Any],
    centres: np.ndarray,
    targets: Mapping[str, float],
    scores: Mapping[str, np.ndarray],
) -> None:
    fig, ax = plots.figure()
    for prefix in scores:
        for wp in targets:
            y = [metrics.get(f"{prefix}/sb_{wp}_{mass_tag(mt)}", np.nan) for mt in centres]
            ax.plot(
                centres,
                y,
                {"test": "o-", "baseline": "s--"}.get(prefix, "^:"),
                label=f"{PLOT_NAMES[prefix]} {wp}",
            )
    ax.set_xlabel("m_A [GeV]")
    ax.set_ylabel("S/B (N_S = N_B)")
    ax.set_yscale("log")
    ax.legend(fontsize=10, ncol=2)
    plots.label(ax)
    plots.save(fig, "sb_vs_mA")


PT_EDGES = (15.0, 20.0, 30.0, 40.0, 60.0, 100.0, 200.0, 1000.0)  # GeV (generator p_T > 15 GeV)
ABS_ETA_EDGES = (0.0, 0.5, 1.0, 1.479, 2.0, 2.5)  # 1.479: CMS barrel/endcap


def _efficiency_vs_kinematics(
    plots: PlotWriter,
    predictions: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray],
    signal: np.ndarray,
    wp: str,
    names: Mapping[str, str],
) -> None:
    """Merged-photon efficiency of working point ``wp`` vs p_T and |η| (measurement rows only)."""
    variables = {"pt": np.asarray(predictions["pt"], np.float64), "abs_eta": np.abs(predictions["eta"])}
    for var, edges in (("pt", np.asarray(PT_EDGES)), ("abs_eta", np.asarray(ABS_ETA_EDGES))):
        idx = np.searchsorted(edges, variables[var][signal], side="right") - 1
        series = {}
        for prefix in scores:
            passed = predictions[decision_column(prefix, wp)][signal]
            series[f"{names[prefix]} {wp}"] = binned_efficiency(passed, None, idx, len(edges) - 1)
        plots.efficiency_vs(var, edges, series, name=f"efficiency_vs_{var}_{wp}",
                            ylabel="Merged-photon efficiency", xscale="log" if var == "pt" else "linear")  # fmt: skip
