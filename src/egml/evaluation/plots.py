"""The standard HEP plots of every task, in one place, with experiment styles from mplhep.

Every function takes arrays, writes ``<out_dir>/<name>.png`` (and ``.pdf`` when asked)
atomically, and returns the path. Names are consistent across tasks (:data:`STANDARD_PLOTS`):
``roc``, ``scores``, ``efficiency_vs_pt_<wp>`` and ``efficiency_vs_abs_eta_<wp>`` (E_T on the
x axis for electrons), ``confusion_matrix``, ``resolution_vs_<var>``, ``response``, plus
task-specific ones (``correlations_<sample>``, ``sb_vs_mA``, ...).

The numbers behind the curves of ``roc``, ``efficiency_vs`` and ``resolution_vs`` are written
beside them as ``<out_dir>/data/<name>.json`` (columns of equal length), from which the W&B
logger builds its tables and line plots (:func:`egml.run.loggers.log_run_artifacts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from egml.atomic import atomic_path, atomic_write_json

STYLES = {"ATLAS": "ATLAS", "CMS": "CMS"}
#: plots every task of a kind writes (``<wp>`` = each of its working points)
STANDARD_PLOTS = {
    "photon_cnn": ("roc", "scores", "efficiency_vs_pt_<wp>", "efficiency_vs_abs_eta_<wp>"),
    "electron_dnn": ("roc", "scores", "efficiency_vs_pt_<wp>", "efficiency_vs_abs_eta_<wp>", "confusion_matrix"),
    "merged_photon": ("roc", "scores", "efficiency_vs_pt_<wp>", "efficiency_vs_abs_eta_<wp>"),
    "energy_regression": ("response_<type>", "resolution_vs_E_true_<type>", "resolution_vs_abs_eta_<type>",
                          "resolution_vs_mu"),
}  # fmt: skip
DATA_DIR = "data"
MAX_CURVE_POINTS = 200  # ROC points kept in the data file (evenly spaced along the curve)
#: axis labels of canonical variable names (others are printed as given)
AXIS_LABELS = {
    "pt": r"$p_{T}$ [GeV]",
    "et": r"$E_{T}$ [GeV]",
    "E": r"$E$ [GeV]",
    "abs_eta": r"$|\eta|$",
    "eta": r"$\eta$",
    "mu": r"$\langle\mu\rangle$",
}


class PlotWriter:
    """Figures in one experiment style, saved under one directory."""

    def __init__(self, out_dir: Path, experiment: str = "ATLAS", formats: Sequence[str] = ("png",)) -> None:
        if experiment not in STYLES:
            raise ValueError(f"plot style '{experiment}' is unknown; expected one of {sorted(STYLES)}")
        self.out_dir = Path(out_dir)
        self.experiment = experiment
        self.formats = tuple(formats)

    def figure(self, ratio: bool = False) -> tuple[plt.Figure, object]:
        import mplhep

        plt.style.use(mplhep.style.ATLAS if self.experiment == "ATLAS" else mplhep.style.CMS)
        if ratio:
            fig, axes = plt.subplots(2, 1, figsize=(8, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
            fig.subplots_adjust(hspace=0.05)
            return fig, axes
        fig, ax = plt.subplots(figsize=(8, 6.5))
        return fig, ax

    def label(self, ax: object, text: str = "Internal") -> None:
        if not self.formats:  # nothing will be saved; mplhep's label lays out the canvas (~0.3 s)
            return
        import mplhep

        lab = mplhep.atlas if self.experiment == "ATLAS" else mplhep.cms
        try:
            lab.label(text, ax=ax, data=False, loc=0, fontsize=13)
        except TypeError:  # older mplhep signatures
            ax.set_title(f"{self.experiment} {text}", loc="left", fontsize=13)

    def save(self, fig: plt.Figure, name: str) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{name}.png"
        for fmt in self.formats:
            target = self.out_dir / f"{name}.{fmt}"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, dpi=110, bbox_inches="tight", format=fmt)
        plt.close(fig)
        return path

    def save_data(
        self, name: str, columns: Mapping[str, Sequence[float] | np.ndarray], **meta: object
    ) -> Path:
        """The numbers behind plot ``name``: equal-length columns (NaN/inf as null) and ``meta``."""
        clean = {}
        for key, values in columns.items():
            arr = np.asarray(values, dtype=np.float64).ravel()
            clean[key] = [float(v) if np.isfinite(v) else None for v in arr]
        path = self.out_dir / DATA_DIR / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"plot": name, **meta, "columns": clean})
        return path

    # --- classification ------------------------------------------------------------------
    def roc(
        self,
        curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
        points: Mapping[str, tuple[float, float]] | None = None,
        name: str = "roc",
        xlabel: str = "Signal efficiency",
        ylabel: str = "Background rejection",
        xlim: tuple[float, float] = (0.3, 1.0),
    ) -> Path:
        """Rejection (1/ε_B) vs signal efficiency for each curve, with the baseline's points."""
        fig, ax = self.figure()
        table: dict[str, list[float]] = {"curve": [], "signal_efficiency": [], "background_efficiency": []}
        for i, (label, (eff_s, eff_b)) in enumerate(curves.items()):
            keep = (eff_b > 0) & (eff_s >= xlim[0])
            ax.plot(eff_s[keep], 1.0 / eff_b[keep], label=label)
            pick = np.unique(np.linspace(0, len(eff_s) - 1, min(len(eff_s), MAX_CURVE_POINTS)).astype(int))
            table["curve"] += [float(i)] * len(pick)
            table["signal_efficiency"] += list(np.asarray(eff_s, np.float64)[pick])
            table["background_efficiency"] += list(np.asarray(eff_b, np.float64)[pick])
        self.save_data(name, table, curves=list(curves))  # "curve" indexes these labels
        for label, (eff_s, eff_b) in (points or {}).items():
            if eff_b > 0:
                ax.plot([eff_s], [1.0 / eff_b], "o", ms=8, label=label)
        ax.set_yscale("log")
        ax.set_xlim(*xlim)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper right", fontsize=11)
        self.label(ax)
        return self.save(fig, name)

    def efficiency_vs(
        self,
        var: str,
        edges: np.ndarray,
        series: Mapping[str, tuple[np.ndarray, np.ndarray]],
        name: str | None = None,
        ylabel: str = "Signal efficiency",
        xscale: str = "linear",
    ) -> Path:
        """Efficiency (with binomial errors) per bin of ``var`` for several selections."""
        fig, ax = self.figure()
        centres = 0.5 * (edges[1:] + edges[:-1])
        half = 0.5 * (edges[1:] - edges[:-1])
        table = {"bin_low": edges[:-1], "bin_high": edges[1:]}
        for label, (eff, err) in series.items():
            ax.errorbar(centres, eff, xerr=half, yerr=err, fmt="o", ms=5, label=label)
            table |= {f"{label} efficiency": eff, f"{label} error": err}
        self.save_data(name or f"efficiency_vs_{var}", table)
        ax.set_xscale(xscale)
        ax.set_xlabel(AXIS_LABELS.get(var, var))
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1.15)
        ax.legend(fontsize=11)
        self.label(ax)
        return self.save(fig, name or f"efficiency_vs_{var}")

    def scores(
        self,
        samples: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
        name: str = "scores",
        xlabel: str = "Network output",
        bins: int | np.ndarray = 50,
        logy: bool = True,
    ) -> Path:
        """Normalised score distributions per class (optionally weighted)."""
        fig, ax = self.figure()
        values = [v for v, _ in samples.values() if len(v)]
        lo = min(float(np.nanmin(v)) for v in values) if values else 0.0
        hi = max(float(np.nanmax(v)) for v in values) if values else 1.0
        edges = np.linspace(lo, hi, bins + 1) if isinstance(bins, int) else bins
        for label, (v, w) in samples.items():
            ok = np.isfinite(v)
            ax.hist(
                v[ok],
                bins=edges,
                weights=None if w is None else w[ok],
                density=True,
                histtype="step",
                lw=1.8,
                label=label,
            )
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Normalised entries")
        ax.legend(fontsize=11)
        self.label(ax)
        return self.save(fig, name)

    def matrix(
        self,
        matrix: np.ndarray,
        xlabels: Sequence[str],
        ylabels: Sequence[str],
        name: str = "confusion_matrix",
        xlabel: str = "Predicted class",
        ylabel: str = "True class",
        fmt: str = "{:.2f}",
        cmap: str = "Blues",
        vmin: float | None = 0.0,
        vmax: float | None = 1.0,
    ) -> Path:
        """A labelled heatmap: confusion matrices and correlation matrices."""
        fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(xlabels), 1.0 + 0.8 * len(ylabels)))
        im = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_xticks(range(len(xlabels)), xlabels, rotation=45, ha="right")
        ax.set_yticks(range(len(ylabels)), ylabels)
        for (i, j), v in np.ndenumerate(matrix):
            if np.isfinite(v):
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        fig.colorbar(im, ax=ax)
        return self.save(fig, name)

    # --- regression -------------------------------------------------------------------------
    def resolution_vs(
        self,
        var: str,
        edges: np.ndarray,
        series: Mapping[str, np.ndarray],
        name: str,
        ylabel: str = r"$\sigma_{IQR}$ / response",
    ) -> Path:
        fig, ax = self.figure()
        centres = 0.5 * (edges[1:] + edges[:-1])
        for label, values in series.items():
            ax.plot(centres, values, "o-", label=label)
        self.save_data(name, {"bin_low": edges[:-1], "bin_high": edges[1:], **series})
        ax.set_xlabel(AXIS_LABELS.get(var, var))
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=11)
        self.label(ax)
        return self.save(fig, name)

    def response(
        self,
        samples: Mapping[str, np.ndarray],
        name: str = "response",
        xlabel: str = r"$E_{pred}/E_{true}$",
        window: tuple[float, float] = (0.8, 1.2),
    ) -> Path:
        fig, ax = self.figure()
        edges = np.linspace(*window, 81)
        for label, ratio in samples.items():
            ax.hist(np.clip(ratio, *window), bins=edges, density=True, histtype="step", lw=1.8, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Normalised entries")
        ax.legend(fontsize=11)
        self.label(ax)
        return self.save(fig, name)


def binomial_efficiency(
    passed: np.ndarray, weights: np.ndarray | None, bin_index: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin (weighted) efficiency and its binomial error, NaN for empty bins."""
    w = np.ones(len(passed)) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = (bin_index >= 0) & (bin_index < n_bins)
    total = np.bincount(bin_index[ok], weights=w[ok], minlength=n_bins)
    total2 = np.bincount(bin_index[ok], weights=w[ok] ** 2, minlength=n_bins)
    num = np.bincount(bin_index[ok], weights=(w * passed)[ok], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = num / total
        n_eff = total**2 / total2
        err = np.sqrt(np.clip(eff * (1 - eff), 0, None) / n_eff)
    return eff, err
