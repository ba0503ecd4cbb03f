"""Evaluation of the energy calibration: raw cluster energy, GBDT and network side by side.

Responses E/E_true are summarised in bins of (particle type, E_true, |η|) with the figures of
merit of PHYSICS.md §5 (median response, σ_IQR = IQR/(1.349·mean) as in reference 003, σ_eff),
and compared with the generator's oracle resolution σ_O1 (per bin the RMS of σ_O1/E_true, the
bound of an unbiased estimator on that mixture of candidates). E bins use the *true* energy, as
the calibration papers do, so each bin holds a fixed population whatever the method.

Headlines: ``test/iqr_ratio_vs_gbdt`` = mean over bins with ≥ ``min_bin_entries`` entries of
σ_IQR(network)/σ_IQR(GBDT); ``test/max_abs_median_bias`` = max |median response − 1| of the
network over the same bins. The full table goes to ``resolution_bins.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from egml.evaluation.binning import bin_index
from egml.evaluation.plots import PlotWriter
from egml.evaluation.resolution import IQR_TO_SIGMA, binned_resolution, resolution_summary
from egml.run.run_info import atomic_write_json

E_EDGES = (0.0, 15.0, 30.0, 60.0, 120.0, 250.0, 500.0, 1000.0, 1.0e4)  # GeV, E_true
ABS_ETA_EDGES = (0.0, 0.8, 1.37, 1.52, 1.8, 2.47)  # |η_cl|; 1.37–1.52 is the crack
MU_EDGES = (0.0, 35.0, 45.0, 55.0, 65.0, 200.0)  # ⟨μ⟩ = 51, Gamma(k = 8) (PHYSICS.md §5)
TYPE_EDGES = (-0.5, 0.5, 1.5, 2.5)  # particleType 0 e±, 1 unconverted γ, 2 converted γ
TYPE_NAMES = {0: "electron", 1: "unconverted photon", 2: "converted photon"}
STATS = ("median_response", "iqr_resolution", "sigma_eff")
COVERAGE_1SIGMA = 0.6827  # Gaussian ±1σ content


def _methods(p: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Response E/E_true of each available method."""
    e_true = np.asarray(p["E_true"], dtype=np.float64)
    out = {"raw": p["E_cluster"] / e_true}
    if "E_gbdt" in p:
        out["gbdt"] = p["E_gbdt"] / e_true
    out["net"] = p["E_pred"] / e_true
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def pulls(p: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """(E_true − E_pred)/σ_pred with σ of the side of E_true for asymmetric outputs; None without σ."""
    resid = np.asarray(p["E_true"], np.float64) - np.asarray(p["E_pred"], np.float64)
    if "sigma_pred" in p:
        return resid / p["sigma_pred"]
    if "sigma_low_pred" in p:
        return resid / np.where(resid < 0, p["sigma_low_pred"], p["sigma_high_pred"])
    return None


def binned_table(p: Mapping[str, np.ndarray], edges: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """One row per bin: n, per-method figures of merit, oracle σ_O1/E and the ratios."""
    variables = {
        "particle_type": np.asarray(p["particle_type"], np.float64),
        "E_true": p["E_true"],
        "abs_eta": np.abs(p["eta"]),
    }
    methods = _methods(p)
    per_method = {m: binned_resolution(r, variables, edges) for m, r in methods.items()}
    n_bins = len(per_method["net"])
    index = bin_index(variables, edges, clip=False)
    inside = index >= 0
    counts = np.bincount(index[inside], minlength=n_bins)
    oracle = None
    if "sigma_O1" in p:
        rel2 = (np.asarray(p["sigma_O1"], np.float64) / np.asarray(p["E_true"], np.float64)) ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            oracle = np.sqrt(np.bincount(index[inside], weights=rel2[inside], minlength=n_bins) / counts)
    pull = pulls(p)
    rows = []
    for b in range(n_bins):  # loop over bins only
        row = {k: v for k, v in per_method["net"][b].items() if k.endswith(("_low", "_high")) or k == "n"}
        for m, table in per_method.items():
            for s in STATS:
                row[f"{m}_{s}"] = table[b].get(s, float("nan"))
        if oracle is not None:
            row["sigma_O1_rel"] = float(oracle[b]) if counts[b] else float("nan")
            for m in methods:
                row[f"{m}_over_oracle"] = row[f"{m}_iqr_resolution"] / row["sigma_O1_rel"]
                row[f"{m}_efficiency_res"] = (row["sigma_O1_rel"] / row[f"{m}_iqr_resolution"]) ** 2
        if "gbdt" in methods:
            row["iqr_ratio_vs_gbdt"] = row["net_iqr_resolution"] / row["gbdt_iqr_resolution"]
        row["iqr_ratio_vs_raw"] = row["net_iqr_resolution"] / row["raw_iqr_resolution"]
        if pull is not None and counts[b] >= 2:
            sel = index == b
            row.update(pull_summary(pull[sel]))
        rows.append(row)
    return rows


def pull_summary(pull: np.ndarray) -> dict[str, float]:
    """Robust pull width IQR/1.349 and the fraction of |pull| < 1 (68.3 % if σ is calibrated)."""
    q25, q75 = np.percentile(pull, [25, 75])
    return {"pull_width": float((q75 - q25) / IQR_TO_SIGMA), "coverage68": float(np.mean(np.abs(pull) < 1.0))}


def _mean(rows: list[dict[str, float]], key: str) -> float:
    vals = np.array([r.get(key, np.nan) for r in rows], np.float64)
    return float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")


def headline(rows: list[dict[str, float]], prefix: str) -> dict[str, float]:
    """Averages over the bins given (those with enough entries)."""
    m = {f"{prefix}n_bins_used": float(len(rows))}
    m[f"{prefix}iqr_ratio_vs_gbdt"] = _mean(rows, "iqr_ratio_vs_gbdt")
    m[f"{prefix}iqr_ratio_vs_raw"] = _mean(rows, "iqr_ratio_vs_raw")
    bias = [
        abs(r["net_median_response"] - 1.0) for r in rows if np.isfinite(r.get("net_median_response", np.nan))
    ]
    m[f"{prefix}max_abs_median_bias"] = max(bias) if bias else float("nan")
    m[f"{prefix}mean_iqr_resolution"] = _mean(rows, "net_iqr_resolution")
    m[f"{prefix}mean_ratio_to_oracle"] = _mean(rows, "net_over_oracle")
    return m


def evaluate_energy_regression(
    predictions: dict[str, np.ndarray],
    out_dir: Path,
    min_bin_entries: int = 500,
    e_edges: Sequence[float] = E_EDGES,
    abs_eta_edges: Sequence[float] = ABS_ETA_EDGES,
    mu_edges: Sequence[float] = MU_EDGES,
    experiment: str = "ATLAS",
    plot_formats: Sequence[str] = ("png",),
) -> dict[str, Any]:
    p = predictions
    edges = {"particle_type": TYPE_EDGES, "E_true": tuple(e_edges), "abs_eta": tuple(abs_eta_edges)}
    rows = binned_table(p, edges)
    used = [r for r in rows if r["n"] >= min_bin_entries]
    m: dict[str, Any] = headline(used, "test/")
    methods = _methods(p)
    types = np.asarray(p["particle_type"]).astype(int)
    for t in np.unique(types):
        m.update(
            headline(
                [r for r in used if r["particle_type_low"] < t < r["particle_type_high"]], f"test/type{t}/"
            )
        )
    m["test/min_bin_entries"] = float(min_bin_entries)
    for name, prefix in (("raw", "test/raw_"), ("gbdt", "baseline/"), ("net", "test/")):
        if name not in methods:
            continue
        for k, v in resolution_summary(methods[name]).items():
            m[f"{prefix}inclusive_{k}"] = float(v)
        if name != "net":
            bias = [abs(r[f"{name}_median_response"] - 1.0) for r in used]
            m[f"{prefix}max_abs_median_bias"] = max(bias) if bias else float("nan")
            m[f"{prefix}mean_iqr_resolution"] = _mean(used, f"{name}_iqr_resolution")
            m[f"{prefix}mean_ratio_to_oracle"] = _mean(used, f"{name}_over_oracle")
    pull = pulls(p)
    if pull is not None:
        s = pull_summary(pull)
        m["test/pull_width"], m["test/coverage68"] = s["pull_width"], s["coverage68"]
    mu_rows = binned_resolution(methods["net"], {"mu": p["mu"]}, {"mu": tuple(mu_edges)})
    mu_table = {name: [r.get("iqr_resolution", np.nan) for r in binned_resolution(ratio, {"mu": p["mu"]},
                                                                               {"mu": tuple(mu_edges)})]
                for name, ratio in methods.items()}  # fmt: skip
    for name, prefix in (("net", "test/"), ("gbdt", "baseline/"), ("raw", "test/raw_")):
        if name in mu_table:
            vals = np.array(mu_table[name])
            ok = np.flatnonzero(np.isfinite(vals))
            m[f"{prefix}iqr_high_over_low_mu"] = (
                float(vals[ok[-1]] / vals[ok[0]]) if ok.size > 1 else float("nan")
            )
    atomic_write_json(
        out_dir / "resolution_bins.json",
        {
            "min_bin_entries": min_bin_entries,
            "edges": {k: list(v) for k, v in edges.items()},
            "bins": rows,
            "vs_mu": {"edges": list(mu_edges), "n": [r["n"] for r in mu_rows], "iqr_resolution": mu_table},
        },
    )
    _plots(
        p, methods, rows, edges, mu_edges, mu_table, PlotWriter(out_dir / "plots", experiment, plot_formats)
    )
    return m


LABELS = {"raw": "raw cluster", "gbdt": "GBDT", "net": "network"}


def _plots(
    p: Mapping[str, np.ndarray],
    methods: Mapping[str, np.ndarray],
    rows: list[dict[str, float]],
    edges: Mapping[str, Sequence[float]],
    mu_edges: Sequence[float],
    mu_table: Mapping[str, list[float]],
    plots: PlotWriter,
) -> None:
    types = np.asarray(p["particle_type"]).astype(int)
    e_true = np.asarray(p["E_true"], np.float64)
    abs_eta = np.abs(np.asarray(p["eta"], np.float64))
    for t in np.unique(types):
        sel = types == t
        tag = f"type{t}"
        plots.response({LABELS[k]: r[sel] for k, r in methods.items()}, name=f"response_{tag}")
        for var, values, ename in (("E_true", e_true, "E_true"), ("abs_eta", abs_eta, "abs_eta")):
            e = np.asarray(edges[ename], np.float64)
            series = {}
            for k, ratio in methods.items():
                res = binned_resolution(ratio[sel], {var: values[sel]}, {var: tuple(e)})
                series[LABELS[k]] = np.array([r.get("iqr_resolution", np.nan) for r in res])
            if "sigma_O1" in p:
                rel2 = (np.asarray(p["sigma_O1"], np.float64) / e_true) ** 2
                idx = np.clip(np.searchsorted(e, values[sel], side="right") - 1, 0, len(e) - 2)
                n = np.bincount(idx, minlength=len(e) - 1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    series[r"oracle $\sigma_{O1}$"] = np.sqrt(np.bincount(idx, rel2[sel], len(e) - 1) / n)
            x = np.where(np.isfinite(e), e, e[-2] * 2)
            plots.resolution_vs(
                "$E_{true}$ [GeV]" if var == "E_true" else r"$|\eta|$",
                x,
                series,
                name=f"resolution_vs_{var}_{tag}",
            )
    plots.resolution_vs(
        r"$\langle\mu\rangle$",
        np.asarray(mu_edges, np.float64),
        {LABELS[k]: np.asarray(v) for k, v in mu_table.items()},
        name="resolution_vs_mu",
    )
