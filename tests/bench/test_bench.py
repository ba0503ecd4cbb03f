"""The benchmark suite at tiny scale: every key of issue 11 present and finite (no timing assertions).

The tiny suite still trains all four tasks (seven train-stage runs and four worker processes):
minutes on a loaded 2-core machine, hence ``slow``. Its default data is read from the session's
``egml_cache`` (the tiny scale has the sizes of tests/tasks/test_plots.py), so the session
generates those samples once for the benchmark, the notebooks and the plot tests.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from egml.bench.peer import train_speeds, weaver_missing
from egml.bench.physics import nested
from egml.bench.report import fmt, markdown
from egml.bench.stats import ratio, summary, value

TASKS = ("photon_cnn", "electron_dnn", "merged_photon", "energy_regression")
PER_TASK = {
    "generator": ("candidates_per_s_per_core", "with_write_per_s"),
    "io": ("root_entries_per_s", "cache_entries_per_s", "root_MB_per_s", "cache_MB_per_s"),
    "training": (
        "model_only_samples_per_s",
        "end_to_end_samples_per_s",
        "pipeline_efficiency",
        "naive_loop_samples_per_s",
        "vs_naive",
    ),
    "inference": ("torch_samples_per_s", "onnx_samples_per_s"),
    "memory": ("peak_rss_mb",),
    "limits": ("compute_bound_samples_per_s", "bandwidth_bound_samples_per_s"),
}
PHYSICS = {
    "photon_cnn": ("eff_ratio_at_tight_rej", "eff_ratio_at_tight_rej_lowpt", "disco_reduction"),
    "electron_dnn": ("rej70_ratio_vs_lh",),
    "merged_photon": (
        "sb_ratio_vs_baseline.loose",
        "sb_ratio_vs_baseline.medium",
        "sb_ratio_vs_baseline.tight",
        "eff_spread_medium",
    ),
    "energy_regression": ("iqr_ratio_vs_gbdt", "max_abs_median_bias"),
}
PEER = (
    "weaver_samples_per_s",
    "egml_samples_per_s",
    "egml_vs_weaver",
    "weaver_rej70",
    "egml_rej70",
    "rej70_egml_over_weaver",
    "egml_default_rej70",
)


def at(node: dict, dotted: str):
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"missing key {dotted!r}"
        node = node[part]
    return node


def finite(x) -> bool:
    return x is not None and math.isfinite(value(x))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, egml_cache: Path) -> tuple[dict, str]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results"
    (tmp / "work").mkdir()
    (tmp / "work" / "cache").symlink_to(egml_cache, target_is_directory=True)  # the bench's cache dir
    cmd = [
        sys.executable,
        "-m",
        "egml.bench",
        "--scale",
        "tiny",
        "--workdir",
        str(tmp / "work"),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    latest = json.loads((out / "latest.json").read_text())
    stamped = [p for p in out.glob("*.json") if p.name != "latest.json"]
    assert len(stamped) == 1 and json.loads(stamped[0].read_text()) == latest
    return latest, proc.stdout


@pytest.mark.slow
def test_every_key_present_and_finite(results: tuple[dict, str]) -> None:
    r, _ = results
    assert r["errors"] == {}
    assert finite(r["machine"]["matmul_flops_per_s"]) and finite(r["machine"]["memory_bytes_per_s"])
    for section, keys in PER_TASK.items():
        for task in TASKS:
            for key in keys:
                fig = at(r, f"{section}.{task}.{key}")
                assert finite(fig), f"{section}.{task}.{key} = {fig}"
                if isinstance(fig, dict):
                    assert fig["min"] <= fig["median"] <= fig["max"] and fig["n"] >= 1
    for task in TASKS:
        assert isinstance(at(r, f"io.{task}.compression.root"), str)
        for key in PHYSICS[task]:
            assert finite(at(r, f"physics.{task}.{key}")), f"physics.{task}.{key}"


@pytest.mark.slow
def test_peer_measured_or_null_with_reason(results: tuple[dict, str]) -> None:
    r, _ = results
    peer = at(r, "peer.electron_dnn")
    if weaver_missing() is None:
        for key in PEER:
            assert finite(peer[key]), f"peer.electron_dnn.{key} = {peer[key]}"
    else:
        assert peer["egml_vs_weaver"] is None and peer["reason"]


@pytest.mark.slow
def test_table_printed(results: tuple[dict, str]) -> None:
    r, stdout = results
    assert "| end-to-end /s |" in stdout and "| photon_cnn.disco_reduction |" in stdout
    assert stdout.strip().splitlines()[-1].startswith("results:")
    assert markdown(r).splitlines()[2].count("|") == len(TASKS) + 2


def test_helpers() -> None:
    s = summary([3.0, 1.0, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)
    assert ratio([2.0, 6.0], [1.0, 2.0])["median"] == 2.5
    assert fmt(None) == "—" and fmt({"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}) == "2 [1–3]"
    assert nested({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}
    log = (
        "INFO: Processed 100 entries in total (avg. speed 10.0 entries/s)\nINFO: Train AvgLoss: 1\n"
        "INFO: Processed 50 entries in total (avg. speed 99.0 entries/s)\nINFO: Eval AvgLoss: 1\n"
        "INFO: Processed 100 entries in total (avg. speed 20.5 entries/s)\nINFO: Train AvgLoss: 1\n"
    )
    assert train_speeds(log) == [10.0, 20.5]
