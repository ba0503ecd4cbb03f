"""The weaver-core peer: the same 5×256 electron DNN trained on the same ROOT files by weaver.

weaver-core reads the files with its own reader, standardises with its own preprocessing and
trains with its own loop, configured by the data-config YAML and network file kept under
``benchmarks/peers/weaver/``. Its per-epoch training speed (weaver's "Processed N entries ...
(avg. speed X entries/s)" log lines; the first epoch is warm-up) is compared with egml's
end-to-end speed. The rejections at 70 % El efficiency are computed here by egml's ROC code on
each framework's test-file predictions (D_el from the six class probabilities, sample mix) and
compared like for like: egml is trained with weaver's settings (no reweighting or class
weights, the same epochs, batch size, optimiser and learning rate) through its real train
stage. Both are trained ``repeats`` times (egml with seeds 0, 1, ...; weaver has no seed option
and its runs repeat exactly) and the medians are compared. egml's default (reweighted) run is reported beside.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from egml.bench.stats import summary

PEER_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "peers" / "weaver"
CLASSES = ("El", "CF", "PC", "HF", "LFEg", "LFH")
_SPEED = re.compile(r"Processed (\d+) entries in total \(avg\. speed ([0-9.]+) entries/s\)")


def weaver_missing() -> str | None:
    """Why the peer cannot run here, or None."""
    if shutil.which("weaver", path=str(Path(sys.executable).parent)) is None:
        return "weaver-core is not installed (pip install weaver-core; see benchmarks/README.md)"
    if not (PEER_DIR / "electron_dnn.yaml").exists():
        return f"peer config not found at {PEER_DIR} (the benchmarks/ folder of the egml repository)"
    return None


def train_speeds(log: str) -> list[float]:
    """Training-epoch speeds from weaver's log (each 'Processed' line followed by 'Train AvgLoss')."""
    lines = log.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = _SPEED.search(line)
        if m and i + 1 < len(lines) and "Train AvgLoss" in lines[i + 1]:
            out.append(float(m.group(2)))
    return out


def rej70(probs: np.ndarray, label: np.ndarray) -> float:
    """Background rejection at 70 % El efficiency on D_el, El vs PC ∪ HF ∪ LFEg ∪ LFH: the task's
    own definition (``egml.tasks.electron_eval``). CF stay out: D_el counts them as signal."""
    from egml.evaluation.roc import rejection_at_efficiency
    from egml.physics.discriminants import d_el
    from egml.tasks.electron_eval import BACKGROUNDS, EL

    ok = np.isfinite(probs).all(axis=1) & ((label == EL) | np.isin(label, BACKGROUNDS))
    score = d_el(np.clip(probs[ok], 1e-12, 1.0), kind="probabilities")
    return float(rejection_at_efficiency(score, label[ok] == EL, 0.70)["rejection"])


def egml_rej70(predictions: Path) -> float:
    with uproot.open(predictions) as f:
        t = f["predictions"].arrays(library="np")
    return rej70(np.stack([t[f"p_{c}"] for c in CLASSES], axis=1), t["label"].astype(int))


def run_weaver(
    files: dict[str, str], epochs: int, batch_size: int, workdir: Path, threads: int
) -> dict[str, Any]:
    out = workdir / "weaver"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = out / "electron_dnn.yaml"  # weaver writes its auto-standardisation file beside it
    shutil.copy(PEER_DIR / "electron_dnn.yaml", config)
    with uproot.open(files["train"]) as f:
        n_train = f["tree"].num_entries
    with uproot.open(files["val"]) as f:
        n_val = f["tree"].num_entries
    cmd = [
        str(Path(sys.executable).parent / "weaver"),
        "--data-train", files["train"], "--data-val", files["val"], "--data-test", files["test"],
        "--data-config", str(config), "--network-config", str(PEER_DIR / "electron_dnn_net.py"),
        "--model-prefix", str(out / "model" / "net"), "--num-epochs", str(epochs + 1),
        "--steps-per-epoch", str(max(n_train // batch_size, 1)),
        "--steps-per-epoch-val", str(max(n_val // batch_size, 1)),
        "--batch-size", str(batch_size), "--optimizer", "adam", "--start-lr", "1e-3",
        "--lr-scheduler", "none", "--gpus", "", "--num-workers", "1", "--in-memory", "--fetch-step", "1",
        "--predict-output", str(out / "pred.root"), "--log-file", str(out / "weaver.log"),
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads > 0 else dict(os.environ)
    proc = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True)
    log = (out / "weaver.log").read_text() if (out / "weaver.log").exists() else proc.stdout
    if proc.returncode != 0 or not (out / "pred.root").exists():
        raise RuntimeError(f"weaver failed (rc {proc.returncode}): {(proc.stderr or log).strip()[-1500:]}")
    speeds = train_speeds(log)
    with uproot.open(out / "pred.root") as f:
        t = f["Events"].arrays(library="np")
    probs = np.stack([t[f"score_is_{c}"] for c in CLASSES], axis=1)
    return {
        "epochs_timed": len(speeds) - 1,
        "samples_per_s": summary(speeds[1:] if len(speeds) > 1 else speeds),
        "rej70": rej70(probs, t["p_class6"].astype(int)),
        "command": " ".join(cmd),
    }


#: egml overrides that match weaver's training (its loss is unweighted, see the data config)
WEAVER_EQUIVALENT = ("data.reweight=null", "task.module.scheduler=null")


def measure_peer(
    files: dict[str, str], egml_speed: dict[str, float], egml_default_predictions: Path, epochs: int,
    batch_size: int, workdir: Path, threads: int, repeats: int, train_egml: Callable[[list[str], str], Path],
) -> dict[str, Any]:  # fmt: skip
    """``peer.electron_dnn``.

    ``egml_speed`` is training.electron_dnn.end_to_end_samples_per_s; ``train_egml(overrides,
    name)`` runs egml's train stage and returns its predictions.root.
    """
    reason = weaver_missing()
    if reason is not None:
        return {"weaver_samples_per_s": None, "egml_vs_weaver": None, "reason": reason}
    weaver_speeds, weaver_rej, egml_rej = [], [], []
    for r in range(repeats):  # alternating, so that a slow phase of a shared machine hits both
        weaver = run_weaver(files, epochs, batch_size, workdir, threads)
        weaver_speeds += [weaver["samples_per_s"]["median"]]
        weaver_rej += [weaver["rej70"]]
        overrides = [*WEAVER_EQUIVALENT, f"trainer.max_epochs={epochs + 1}", f"seed={r}"]
        egml_rej += [egml_rej70(train_egml(overrides, f"peer_egml_seed{r}"))]
    w = summary(weaver_speeds)
    return {
        "weaver_samples_per_s": w,
        "egml_samples_per_s": egml_speed,
        "egml_vs_weaver": {k: egml_speed["median"] / w["median"] for k in ("median",)}
        | {"min": egml_speed["min"] / w["max"], "max": egml_speed["max"] / w["min"]},
        "weaver_rej70": summary(weaver_rej),
        "egml_rej70": summary(egml_rej),
        "rej70_egml_over_weaver": float(np.median(egml_rej) / np.median(weaver_rej)),
        "egml_default_rej70": egml_rej70(egml_default_predictions),
        "epochs": epochs + 1,
        "egml_overrides": list(WEAVER_EQUIVALENT),
        "weaver_command": weaver["command"],
    }
