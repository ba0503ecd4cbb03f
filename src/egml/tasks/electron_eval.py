"""Evaluation of the six-class electron DNN against the likelihood baseline (issue 5).

Weights. Every metric uses w = (data-layer weight: the (E_T, |η|) reweighting of each class to
El, if configured) × (a per-class factor giving the classes the PHYSICS.md §3 physical mix,
``background_mix="physical"``; ``"sample"`` keeps the test sample's own mix). Efficiencies within
one class do not depend on the class factor; the mixed background (PC+HF+LFEg+LFH) does.

Headline: background rejection (PC+HF+LFEg+LFH) at 70 % El efficiency, one inclusive cut on D_el
(DNN) and on the LH d' with the Medium/Tight hit requirements (nSi, nPix, nBlayer) folded in
(candidates failing them rank below all others): a 70 % point is tighter than Tight (80 %), so
the LH is compared in the configuration ATLAS uses there. The LH without hit requirements and
with only the nSi/nPix ones is reported as well.

Working points of the DNN (D_el, signal = El) are fitted per (E_T, |η|) bin of the LH binning on
the even-numbered test rows and their efficiency is checked on the odd-numbered rows (an
independent sample); the map saved in ``working_points.json`` is the even-row fit. The LH working
points come fitted on the training split with the baseline. The optional fraction scan picks the
D_el fractions on the even rows too; ``test/rej70_holdout`` is then the odd-row value.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from egml.baselines.likelihood import DEFAULT_TARGETS, LH_ABS_ETA_EDGES, LH_ET_EDGES
from egml.evaluation.plots import PlotWriter, binomial_efficiency
from egml.evaluation.roc import auc, rejection_at_efficiency, roc_curve
from egml.evaluation.working_points import (
    WorkingPointMap,
    efficiency_per_bin,
    fit_working_point,
    save_working_points,
)
from egml.physics.discriminants import ELECTRON_CLASSES, PHYSICAL_MIX, d_el

EL, CF = 0, 1
BACKGROUNDS = (2, 3, 4, 5)
WP_BINS = {"et": LH_ET_EDGES, "abs_eta": LH_ABS_ETA_EDGES}
ET_PLOT_EDGES = np.array([4.5, 7.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 100.0, 250.0, 1000.0])  # GeV
SCAN_F_EL = (0.5, 0.9, 0.97, 1.0)
SCAN_STEP = 0.1  # grid step of (f_PC, f_HF, f_LFEg, f_LFH) on the simplex


def evaluation_weights(label: NDArray, weight: NDArray | None, background_mix: str) -> NDArray[np.float64]:
    """Per-row weights (see module docstring)."""
    y = np.asarray(label).astype(np.int64)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64).copy()
    if background_mix == "sample":
        return w
    if background_mix != "physical":
        raise ValueError(
            f"config key 'task.module.evaluation.background_mix' is {background_mix!r}; expected physical|sample"
        )
    totals = np.bincount(y, weights=w, minlength=len(ELECTRON_CLASSES))
    factor = np.array([PHYSICAL_MIX[c] for c in ELECTRON_CLASSES]) / np.where(totals > 0, totals, 1.0)
    return w * factor[y] * len(y)


def _rejection(
    score: NDArray, y: NDArray, w: NDArray, target: float, signal: int, bkg: Sequence[int]
) -> dict:
    sel = (y == signal) | np.isin(y, bkg)
    return rejection_at_efficiency(score[sel], y[sel] == signal, target, w[sel])


def _with_hits(dprime: NDArray, hits: NDArray | None) -> NDArray:
    """d' with candidates failing the hit requirements ranked below every passing one."""
    if hits is None:
        return dprime
    return np.where(hits.astype(bool), dprime, np.min(dprime) - 1.0)


def scan_fractions(log_p: NDArray, y: NDArray, w: NDArray, target: float) -> tuple[dict[str, float], float]:
    """D_el fractions maximising El-vs-(PC+HF+LFEg+LFH) rejection at ``target`` El efficiency (grid)."""
    n = round(1 / SCAN_STEP)
    best: tuple[float, dict[str, float]] = (-1.0, {})
    sel = (y == EL) | np.isin(y, BACKGROUNDS)
    for f_el in SCAN_F_EL:
        for i, j, k in itertools.product(range(n + 1), repeat=3):  # loop over grid points only
            if i + j + k > n:
                continue
            f = {"f_el": f_el, "f_pc": i * SCAN_STEP, "f_hf": j * SCAN_STEP, "f_lfeg": k * SCAN_STEP}
            score = d_el(log_p[sel], kind="log_probabilities", **f)
            if not np.all(np.isfinite(score)):
                score = np.nan_to_num(score, nan=-1e300, posinf=1e300, neginf=-1e300)
            rej = rejection_at_efficiency(score, y[sel] == EL, target, w[sel])["rejection"]
            if rej > best[0]:
                best = (rej, f)
    return best[1], best[0]


def evaluate_electron_id(
    predictions: dict[str, NDArray],
    out_dir: Path,
    fractions: Mapping[str, float],
    target_efficiency: float = 0.70,
    cf_efficiency: float = 0.90,
    wp_targets: Mapping[str, float] | None = None,
    background_mix: str = "physical",
    scan: bool = False,
    min_closure_entries: int = 1000,
    experiment: str = "ATLAS",
    plot_formats: Sequence[str] = ("png",),
    saved_working_points: Mapping[str, WorkingPointMap] | None = None,
) -> dict[str, Any]:
    """Metrics and plots of the DNN vs the LH (see module docstring); adds WP decisions to ``predictions``.

    ``saved_working_points`` (the training maps, at eval) are applied instead of fitting new ones.
    """
    y = np.asarray(predictions["label"]).astype(np.int64)
    et, abs_eta = (
        np.asarray(predictions["et"], np.float64),
        np.abs(np.asarray(predictions["eta"], np.float64)),
    )
    kin = {"et": et, "abs_eta": abs_eta}
    w = evaluation_weights(y, predictions.get("weight"), background_mix)
    probs = np.stack([np.asarray(predictions[f"p_{c}"], np.float64) for c in ELECTRON_CLASSES], axis=1)
    log_p = np.log(np.maximum(probs, 1e-300))
    even = np.arange(len(y)) % 2 == 0
    plots = PlotWriter(out_dir / "plots", experiment, plot_formats)
    tag = round(100 * target_efficiency)
    m: dict[str, Any] = {f"test/n_{c}": int((y == i).sum()) for i, c in enumerate(ELECTRON_CLASSES)}

    if scan:
        chosen, _ = scan_fractions(log_p[even], y[even], w[even], target_efficiency)
        fractions = chosen
        predictions["D_el"] = d_el(log_p, kind="log_probabilities", **chosen).astype(np.float32)
        odd = ~even
        m[f"test/rej{tag}_holdout"] = _rejection(
            predictions["D_el"][odd].astype(np.float64), y[odd], w[odd], target_efficiency, EL, BACKGROUNDS
        )["rejection"]
    m.update({f"test/{k}": float(v) for k, v in fractions.items()})
    score = np.asarray(predictions["D_el"], np.float64)
    dprime = np.asarray(predictions["lh_dprime"], np.float64) if "lh_dprime" in predictions else None

    # --- headline: rejection at the target El efficiency -------------------------------------
    dnn = _rejection(score, y, w, target_efficiency, EL, BACKGROUNDS)
    m[f"test/rej{tag}"], m[f"test/rej{tag}_err"] = dnn["rejection"], dnn["rejection_err"]
    curves = {"DNN (D_el)": _roc(score, y, w, BACKGROUNDS)}
    if dprime is not None:
        lh_scores = {
            "": _with_hits(dprime, predictions.get("lh_hits_blayer")),
            "_hits": _with_hits(dprime, predictions.get("lh_hits")),
            "_nohits": dprime,
        }
        for suffix, s in lh_scores.items():
            lh = _rejection(s, y, w, target_efficiency, EL, BACKGROUNDS)
            m[f"baseline/lh_rej{tag}{suffix}"] = lh["rejection"]
        m[f"baseline/lh_rej{tag}_err"] = _rejection(lh_scores[""], y, w, target_efficiency, EL, BACKGROUNDS)[
            "rejection_err"
        ]
        m[f"test/rej{tag}_ratio_vs_lh"] = m[f"test/rej{tag}"] / m[f"baseline/lh_rej{tag}"]
        curves["LH (d', hit requirements)"] = _roc(lh_scores[""], y, w, BACKGROUNDS)
    plots.roc(curves, name="roc", xlabel="El efficiency")  # El vs PC+HF+LFEg+LFH

    # --- per background class -------------------------------------------------------------------
    for c in BACKGROUNDS:
        name = ELECTRON_CLASSES[c]
        m[f"test/rej{tag}_{name}"] = _rejection(score, y, w, target_efficiency, EL, (c,))["rejection"]
        per = {"DNN (D_el)": _roc(score, y, w, (c,))}
        if dprime is not None:
            s = lh_scores[""]
            m[f"baseline/lh_rej{tag}_{name}"] = _rejection(s, y, w, target_efficiency, EL, (c,))["rejection"]
            per["LH"] = _roc(s, y, w, (c,))
        plots.roc(per, name=f"roc_el_vs_{name}", xlabel="El efficiency")

    # --- one-vs-rest AUC and the confusion matrix ---------------------------------------------
    for i, c in enumerate(ELECTRON_CLASSES):
        if 0 < (y == i).sum() < len(y):
            m[f"test/auc_{c}"] = auc(probs[:, i], y == i, w)
    confusion = np.zeros((len(ELECTRON_CLASSES),) * 2)
    np.add.at(confusion, (y, probs.argmax(1)), 1.0)
    confusion /= np.maximum(confusion.sum(1, keepdims=True), 1.0)
    m["test/confusion_matrix"] = confusion.tolist()
    m["test/balanced_accuracy"] = float(np.mean(np.diag(confusion)[np.bincount(y, minlength=6) > 0]))
    plots.matrix(confusion, ELECTRON_CLASSES, ELECTRON_CLASSES, name="confusion_matrix")

    # --- charge-flip rejection with D_CF at fixed El efficiency ---------------------------------
    cf_tag = round(100 * cf_efficiency)
    if (y == CF).any():
        log_dcf = np.asarray(predictions["log_D_CF"], np.float64)
        m[f"test/cf_rej{cf_tag}"] = _rejection(log_dcf, y, w, cf_efficiency, EL, (CF,))["rejection"]
        if dprime is not None:
            m[f"baseline/lh_cf_rej{cf_tag}"] = _rejection(dprime, y, w, cf_efficiency, EL, (CF,))["rejection"]

    # --- working points ------------------------------------------------------------------------
    _working_points(
        predictions,
        m,
        score,
        y,
        w,
        kin,
        even,
        dict(wp_targets or DEFAULT_TARGETS),
        min_closure_entries,
        plots,
        out_dir,
        dict(saved_working_points or {}),
    )

    # --- D_el per class ---------------------------------------------------------------------------
    plots.scores(
        {c: (score[y == i], None) for i, c in enumerate(ELECTRON_CLASSES) if (y == i).any()},
        name="scores",
        xlabel=r"$D_{el}$",
    )
    return m


def _roc(score: NDArray, y: NDArray, w: NDArray, bkg: Sequence[int]) -> tuple[NDArray, NDArray]:
    sel = (y == EL) | np.isin(y, bkg)
    r = roc_curve(score[sel], y[sel] == EL, w[sel])
    return r.signal_efficiency, r.background_efficiency


def _working_points(
    predictions: dict[str, NDArray],
    m: dict[str, Any],
    score: NDArray,
    y: NDArray,
    w: NDArray,
    kin: Mapping[str, NDArray],
    even: NDArray,
    targets: Mapping[str, float],
    min_closure_entries: int,
    plots: PlotWriter,
    out_dir: Path,
    saved: Mapping[str, WorkingPointMap],
) -> None:
    el, bkg = y == EL, np.isin(y, BACKGROUNDS)
    et_bin = np.searchsorted(ET_PLOT_EDGES, kin["et"], side="right") - 1
    n_et = len(ET_PLOT_EDGES) - 1
    eta_edges = np.asarray(LH_ABS_ETA_EDGES, np.float64)
    eta_bin = np.searchsorted(eta_edges, kin["abs_eta"], side="right") - 1
    maps = {}
    for wp, target in targets.items():
        fit_rows = even & el
        if wp in saved:  # eval: the training map, applied; every El row is independent of it
            wp_map, fit_rows = saved[wp], np.zeros_like(el)
        elif fit_rows.any():
            wp_map = fit_working_point(
                score[fit_rows], np.ones(int(fit_rows.sum()), bool), {k: v[fit_rows] for k, v in kin.items()},
                WP_BINS, float(target), name=wp, score="D_el",
            )  # fmt: skip
        else:
            continue
        maps[wp] = wp_map
        passed = wp_map.apply(score, kin)
        predictions[f"wp_{wp}"] = passed.astype(np.int32)
        check = ~fit_rows & el
        per_bin = efficiency_per_bin(wp_map, score[check], {k: v[check] for k, v in kin.items()})
        big = per_bin["n"] >= min_closure_entries
        m[f"test/dnn_{wp}_eff_heldout"] = float(passed[check].mean()) if check.any() else float("nan")
        m[f"test/dnn_{wp}_closure_maxdev"] = (
            float(np.max(np.abs(per_bin["efficiency"][big] - target))) if big.any() else float("nan")
        )
        m[f"test/dnn_{wp}_closure_bins"] = int(big.sum())
        series, signal_pt, signal_eta = {}, {}, {}
        for who, dec in (("DNN", passed), ("LH", predictions.get(f"lh_{wp}"))):
            if dec is None:
                continue
            dec = np.asarray(dec).astype(bool)
            signal_pt[f"{who} {wp}"] = binomial_efficiency(dec[el], w[el], et_bin[el], n_et)
            signal_eta[f"{who} {wp}"] = binomial_efficiency(dec[el], w[el], eta_bin[el], len(eta_edges) - 1)
            key = "test/dnn" if who == "DNN" else "baseline/lh"
            m[f"{key}_{wp}_eff_el"] = float(np.average(dec[el], weights=w[el])) if el.any() else float("nan")
            eff_b = float(np.average(dec[bkg], weights=w[bkg])) if bkg.any() else float("nan")
            m[f"{key}_{wp}_rejection"] = 1.0 / eff_b if eff_b > 0 else float("inf")
            series[f"{who} {wp}"] = binomial_efficiency(dec[bkg], w[bkg], et_bin[bkg], n_et)
        plots.efficiency_vs(
            "et", ET_PLOT_EDGES, series, name=f"background_efficiency_vs_et_{wp}",
            ylabel="Background efficiency", xscale="log",
        )  # fmt: skip
        plots.efficiency_vs("et", ET_PLOT_EDGES, signal_pt, name=f"efficiency_vs_pt_{wp}",
                            ylabel="El efficiency", xscale="log")  # fmt: skip
        plots.efficiency_vs("abs_eta", eta_edges, signal_eta, name=f"efficiency_vs_abs_eta_{wp}",
                            ylabel="El efficiency")  # fmt: skip
    if maps and not saved:
        save_working_points(
            out_dir / "working_points.json",
            maps,
            metadata={"task": "electron_dnn", "score": "D_el", "signal": "El", "fitted_on": "even test rows"},
        )
