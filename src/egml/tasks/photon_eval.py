"""Evaluation of photon identification: the network against the re-optimised cut-based menu.

All comparisons are at **matched background rejection**: the network's loose/tight working
points reject as much background as the cut-based loose/tight menus, inclusively and per
(pT, |η|, conversion) bin, and the signal efficiencies are compared there. Efficiencies are
unweighted fractions of the test sample (both classes share the generated pT spectrum).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from egml.evaluation.plots import PlotWriter, binomial_efficiency
from egml.evaluation.roc import auc, roc_curve, threshold_at_background_efficiency
from egml.evaluation.working_points import WorkingPointMap, save_working_points

PT_EDGES = (0.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0, 100.0, 250.0, 1.0e4)  # GeV
ABS_ETA_EDGES = (0.0, 0.6, 0.8, 1.15, 1.37, 1.52, 1.81, 2.01, 2.37)
CONV_EDGES = (-0.5, 0.5, 10.0)  # unconverted | converted (reconstructed convType)
BIN_EDGES = {"pt": PT_EDGES, "abs_eta": ABS_ETA_EDGES, "conv_type": CONV_EDGES}
LOW_PT = 25.0  # GeV: the low-pT headline of reference 000
CORRELATION_VARS = (
    "Reta",
    "Rphi",
    "weta2",
    "weta1",
    "wtots1",
    "fracs1",
    "Eratio",
    "deltae",
    "f1",
    "Rhad",
    "ptcone20",
    "ptcone40",
    "topoetcone20",
    "topoetcone40",
)


def matched_threshold(score: np.ndarray, label: np.ndarray, passed_ref: np.ndarray) -> float:
    """Score threshold whose background efficiency equals the reference selection's."""
    bkg = ~label
    return threshold_at_background_efficiency(score[bkg], float(passed_ref[bkg].mean()))


def matched_map(
    name: str,
    score_name: str,
    score: np.ndarray,
    label: np.ndarray,
    passed_ref: np.ndarray,
    variables: dict[str, np.ndarray],
    min_background: int = 50,
) -> WorkingPointMap:
    """Per-bin thresholds matching the reference's background efficiency in each bin."""
    wp = WorkingPointMap(
        name=name,
        score=score_name,
        target_kind="background_rejection",  # the reference's inclusive rejection (per bin: its own)
        target=1.0 / max(float(passed_ref[~label].mean()), 1e-12),
        bin_variables=tuple(BIN_EDGES),
        bin_edges=tuple(tuple(e) for e in BIN_EDGES.values()),
        thresholds=np.zeros(0),
        inclusive_threshold=matched_threshold(score, label, passed_ref),
    )
    index = wp.bin_index(variables)
    n_bins = int(np.prod(wp.shape))
    thresholds = np.full(n_bins, wp.inclusive_threshold)
    bkg = ~label
    n_fit = np.bincount(index[bkg], minlength=n_bins)
    for b in np.flatnonzero(n_fit >= min_background):  # loop over bins only
        rows = (index == b) & bkg
        thresholds[b] = threshold_at_background_efficiency(score[rows], float(passed_ref[rows].mean()))
    wp.thresholds = thresholds.reshape(wp.shape)
    wp.n_fit = n_fit.reshape(wp.shape)
    wp.fallback = (n_fit < min_background).reshape(wp.shape)
    return wp


def efficiency(passed: np.ndarray, select: np.ndarray) -> float:
    return float(passed[select].mean()) if select.any() else float("nan")


def disco_with(score: np.ndarray, other: np.ndarray, max_entries: int = 20000) -> float:
    """dCor²(score, other), on at most ``max_entries`` entries (O(n²) compute)."""
    import torch

    from egml.losses.disco import distance_correlation

    n = min(len(score), max_entries)
    if n < 2:
        return float("nan")
    x = torch.as_tensor(score[:n], dtype=torch.float64)
    y = torch.as_tensor(other[:n], dtype=torch.float64)
    with torch.no_grad():
        return float(distance_correlation(x, y))


def matrix_method(
    passed_id: np.ndarray, control_id: np.ndarray, track_iso: np.ndarray, label: np.ndarray
) -> dict[str, float]:
    """Track-isolation matrix method for the efficiency of ``passed_id``.

    In a sample of signal S and background B, N_iso = ε_S S + ε_B B solves for S given the
    isolation efficiencies. ε_S comes from simulated signal (truth), ε_B from the background
    control region that *fails* the isolation-decorrelated output (``control_id``): a valid
    estimate only if that output's selection does not sculpt background isolation, which the
    DisCo term enforces. The estimated efficiency S(pass ID)/S(all) is compared with truth.
    """
    out: dict[str, float] = {}
    ctrl = ~control_id
    eps_b = float(track_iso[ctrl].mean()) if ctrl.any() else float("nan")
    for name, sel in (("all", np.ones_like(passed_id)), ("pass", passed_id)):
        n, n_iso = float(sel.sum()), float((sel & track_iso).sum())
        eps_s = float(track_iso[sel & label].mean()) if (sel & label).any() else float("nan")
        out[f"S_{name}"] = (n_iso - eps_b * n) / (eps_s - eps_b) if eps_s != eps_b else float("nan")
        out[f"eps_s_{name}"] = eps_s
    for region, sel in (
        ("A_passid_iso", passed_id & track_iso),
        ("B_passid_noniso", passed_id & ~track_iso),
        ("C_failid_iso", ~passed_id & track_iso),
        ("D_failid_noniso", ~passed_id & ~track_iso),
    ):
        out[f"N_{region}"] = int(sel.sum())
    out["eps_b_control"] = eps_b
    out["efficiency_estimate"] = out["S_pass"] / out["S_all"] if out["S_all"] else float("nan")
    out["efficiency_truth"] = float(passed_id[label].mean())
    out["closure"] = out["efficiency_estimate"] - out["efficiency_truth"]
    return out


def evaluate_photon_id(
    predictions: dict[str, np.ndarray],
    output_names: Sequence[str],
    out_dir: Path,
    experiment: str = "ATLAS",
    plot_formats: Sequence[str] = ("png",),
    saved_working_points: Mapping[str, WorkingPointMap] | None = None,
) -> dict[str, Any]:
    """Metrics and plots; the loose/tight maps are fitted here (matched to the cut-based menus)
    unless ``saved_working_points`` (the training maps) are given, which are then applied."""
    saved = dict(saved_working_points or {})
    label = predictions["label"] > 0.5
    pt, abs_eta = predictions["pt"], np.abs(predictions["eta"])
    variables = {"pt": pt, "abs_eta": abs_eta, "conv_type": predictions["conv_type"].astype(np.float64)}
    main = f"score_{output_names[0]}"
    score = predictions[main]
    plots = PlotWriter(out_dir / "plots", experiment, plot_formats)
    m: dict[str, Any] = {"test/n_signal": int(label.sum()), "test/n_background": int((~label).sum())}

    for name in output_names:
        m[f"test/auc_{name}"] = auc(predictions[f"score_{name}"], label)
    roc = roc_curve(score, label)
    points = {}
    maps: dict[str, WorkingPointMap] = {}
    low = pt < LOW_PT
    for menu in ("loose", "tight"):
        ref = predictions.get(f"cutbased_{menu}")
        if ref is None:
            continue
        ref = ref.astype(bool)
        eff_ref, eff_b = efficiency(ref, label), efficiency(ref, ~label)
        points[f"cut-based {menu}"] = (eff_ref, eff_b)
        thr = matched_threshold(score, label, ref)
        cnn = score >= thr
        m[f"baseline/cutbased_{menu}_eff"] = eff_ref
        m[f"baseline/cutbased_{menu}_rejection"] = 1.0 / eff_b if eff_b > 0 else float("inf")
        m[f"test/eff_at_{menu}_rej"] = efficiency(cnn, label)
        m[f"test/eff_ratio_at_{menu}_rej"] = (
            m[f"test/eff_at_{menu}_rej"] / eff_ref if eff_ref else float("nan")
        )
        # the same comparison restricted to low pT, matched in that range
        if (low & label).any() and (low & ~label).any():
            thr_low = threshold_at_background_efficiency(score[low & ~label], float(ref[low & ~label].mean()))
            eff_ref_low = efficiency(ref, low & label)
            m[f"baseline/cutbased_{menu}_eff_lowpt"] = eff_ref_low
            m[f"test/eff_at_{menu}_rej_lowpt"] = efficiency(score >= thr_low, low & label)
            m[f"test/eff_ratio_at_{menu}_rej_lowpt"] = (
                m[f"test/eff_at_{menu}_rej_lowpt"] / eff_ref_low if eff_ref_low else float("nan")
            )
        wp = saved[menu] if menu in saved else matched_map(menu, main, score, label, ref, variables)
        maps[menu] = wp
        decision = wp.apply(score, variables)
        predictions[f"wp_{menu}"] = decision.astype(np.int32)
        m[f"test/eff_binned_wp_{menu}"] = efficiency(decision, label)
        m[f"test/bkg_eff_binned_wp_{menu}"] = efficiency(decision, ~label)
        for var, edges, values in (
            ("pt", np.asarray(PT_EDGES), pt),
            ("abs_eta", np.asarray(ABS_ETA_EDGES), abs_eta),
        ):
            idx = np.searchsorted(edges, values, side="right") - 1
            sig = label
            e_cnn, err_cnn = binomial_efficiency(decision[sig], None, idx[sig], len(edges) - 1)
            e_ref, err_ref = binomial_efficiency(ref[sig], None, idx[sig], len(edges) - 1)
            plots.efficiency_vs(
                var,
                edges,
                {f"CNN {menu} (matched rejection)": (e_cnn, err_cnn), f"cut-based {menu}": (e_ref, err_ref)},
                name=f"efficiency_vs_{var}_{menu}",
                xscale="log" if var == "pt" else "linear",
            )
    if maps and not saved:
        save_working_points(
            out_dir / "working_points.json",
            maps,
            metadata={"task": "photon_cnn", "matched_to": "cut-based menus (background efficiency)"},
        )
    plots.roc({f"CNN ({output_names[0]})": (roc.signal_efficiency, roc.background_efficiency)}, points)
    plots.scores(
        {"prompt photons": (score[label], None), "background": (score[~label], None)}, xlabel="CNN score"
    )

    # decorrelation: DisCo of every output with ptcone40 on background
    bkg = ~label
    for name in output_names:
        m[f"test/disco_ptcone40_bkg_{name}"] = disco_with(
            predictions[f"score_{name}"][bkg], predictions["ptcone40"][bkg]
        )
    _correlations(predictions, output_names, label, plots)
    if "iso_decorrelated" in output_names and "wp_tight" in predictions:
        iso_score = predictions["score_iso_decorrelated"]
        control = iso_score >= matched_threshold(iso_score, label, predictions["cutbased_loose"].astype(bool))
        track_iso = predictions["ptcone20"] < 0.05 * pt
        for key, value in matrix_method(
            predictions["wp_tight"].astype(bool), control, track_iso, label
        ).items():
            m[f"test/matrix_method/{key}"] = value
    return m


def _correlations(
    predictions: dict[str, np.ndarray], output_names: Sequence[str], label: np.ndarray, plots: PlotWriter
) -> None:
    rows = [f"score_{n}" for n in output_names]
    cols = [v for v in CORRELATION_VARS if v in predictions]
    if not cols:
        return
    for sample, sel in (("signal", label), ("background", ~label)):
        matrix = np.full((len(rows), len(cols)), np.nan)
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                x, y = predictions[r][sel], predictions[c][sel]
                ok = np.isfinite(x) & np.isfinite(y)
                if ok.sum() > 2 and np.std(x[ok]) > 0 and np.std(y[ok]) > 0:
                    matrix[i, j] = np.corrcoef(x[ok], y[ok])[0, 1]
        plots.matrix(
            matrix,
            cols,
            rows,
            name=f"correlations_{sample}",
            xlabel="",
            ylabel="",
            cmap="coolwarm",
            vmin=-1.0,
            vmax=1.0,
        )
