"""Writing the results (timestamped JSON + latest.json, atomically) and the Markdown table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from egml.atomic import atomic_write_json


def write_results(results: dict[str, Any], out_dir: Path, stamp: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp}.json"
    atomic_write_json(path, results)
    atomic_write_json(out_dir / "latest.json", results)
    return path


def fmt(figure: Any, digits: int = 3) -> str:
    """``median [min–max]`` of a figure, a plain number, or '—'."""
    if figure is None:
        return "—"
    if isinstance(figure, dict):
        if "median" not in figure:
            return "—"
        med, lo, hi = figure["median"], figure["min"], figure["max"]
        return (
            f"{_num(med, digits)} [{_num(lo, digits)}–{_num(hi, digits)}]"
            if figure.get("n", 1) > 1
            else _num(med, digits)
        )
    return _num(figure, digits)


def _num(x: Any, digits: int) -> str:
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:.0f}"


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for p in path:
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


SPEED_COLUMNS = [
    ("gen cand/s/core", ("generator", "candidates_per_s_per_core")),
    ("gen+write /s", ("generator", "with_write_per_s")),
    ("ROOT entries/s", ("io", "root_entries_per_s")),
    ("cache entries/s", ("io", "cache_entries_per_s")),
    ("model-only /s", ("training", "model_only_samples_per_s")),
    ("end-to-end /s", ("training", "end_to_end_samples_per_s")),
    ("pipeline eff.", ("training", "pipeline_efficiency")),
    ("naive /s", ("training", "naive_loop_samples_per_s")),
    ("vs naive", ("training", "vs_naive")),
    ("torch infer /s", ("inference", "torch_samples_per_s")),
    ("ONNX infer /s", ("inference", "onnx_samples_per_s")),
    ("peak RSS MB", ("memory", "peak_rss_mb")),
]
PHYSICS = {
    "photon_cnn": ["eff_ratio_at_tight_rej", "eff_ratio_at_tight_rej_lowpt", "disco_reduction"],
    "electron_dnn": ["rej70_ratio_vs_lh"],
    "merged_photon": [
        "sb_ratio_vs_baseline.loose",
        "sb_ratio_vs_baseline.medium",
        "sb_ratio_vs_baseline.tight",
        "eff_spread_medium",
    ],
    "energy_regression": ["iqr_ratio_vs_gbdt", "max_abs_median_bias"],
}


def markdown(results: dict[str, Any]) -> str:
    tasks = results["meta"]["tasks"]
    lines = [
        f"egml benchmark, scale `{results['meta']['scale']}`, device `{results['meta']['device']}`, "
        f"{results['meta']['timestamp']} — median [min–max] over {results['meta']['repeats']} repeats",
        "",
        "| figure | " + " | ".join(tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    for label, (section, key) in SPEED_COLUMNS:
        lines.append(f"| {label} | " + " | ".join(fmt(_get(results, section, t, key)) for t in tasks) + " |")
    lines += ["", "| physics | value |", "|---|---|"]
    for t in tasks:
        for key in PHYSICS[t]:
            lines.append(f"| {t}.{key} | {fmt(_get(results, 'physics', t, *key.split('.')))} |")
    peer = _get(results, "peer", "electron_dnn") or {}
    lines += ["", "| peer (electron_dnn) | value |", "|---|---|"]
    if peer.get("egml_vs_weaver") is None:
        lines.append(f"| weaver-core | not measured: {peer.get('reason', 'unknown')} |")
    else:
        for key in (
            "egml_samples_per_s",
            "weaver_samples_per_s",
            "egml_vs_weaver",
            "egml_rej70",
            "weaver_rej70",
            "rej70_egml_over_weaver",
            "egml_default_rej70",
        ):
            lines.append(f"| {key} | {fmt(peer.get(key))} |")
    m = results.get("machine", {})
    lines += [
        "",
        f"machine: {m.get('device')}, {m.get('torch_threads')} torch thread(s); matmul "
        f"{fmt(_scaled(m.get('matmul_flops_per_s'), 1e-9))} GFLOP/s; memory copy "
        f"{fmt(_scaled(m.get('memory_bytes_per_s'), 1e-9))} GB/s",
    ]
    return "\n".join(lines)


def _scaled(figure: Any, factor: float) -> Any:
    if not isinstance(figure, dict):
        return figure
    return {k: (v * factor if k in ("median", "min", "max") else v) for k, v in figure.items()}
