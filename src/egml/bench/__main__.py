"""``python -m egml.bench --scale small|full|tiny [--device cpu|cuda] [--out DIR]``: see benchmarks/README.md."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from egml.bench import device as dev
from egml.bench.config import TASKS, compose_config
from egml.bench.report import markdown, write_results
from egml.bench.scales import SCALES
from egml.bench.stats import value

log = logging.getLogger("egml.bench")
REPO_RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "results"
SECTIONS = ("generator", "physics", "io", "training", "peer")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m egml.bench", description="egml benchmark suite (issue 11)")
    p.add_argument("--scale", choices=sorted(SCALES), default="small")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument(
        "--out", type=Path, default=REPO_RESULTS, help="results folder (default benchmarks/results)"
    )
    p.add_argument(
        "--workdir", type=Path, default=None, help="data and run folder (default: a temp dir per scale)"
    )
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument(
        "--threads", type=int, default=None,
        help="torch threads in every process (default 1 on cpu: per-core figures, no oversubscription "
        "of a shared machine; 0 = torch's default)",
    )  # fmt: skip
    p.add_argument("--no-peer", action="store_true", help="skip the weaver-core peer (recorded as null)")
    p.add_argument(
        "--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
        help="sections to measure (default all; training includes inference and memory)",
    )  # fmt: skip
    return p.parse_args(argv)


def guarded(errors: dict[str, str], where: str, fn: Callable[[], Any]) -> Any:
    """Run one measurement; a failure is recorded under ``errors`` and the suite goes on."""
    t0 = time.perf_counter()
    try:
        out = fn()
        log.info("%s done in %.0f s", where, time.perf_counter() - t0)
        return out
    except Exception as err:
        errors[where] = f"{type(err).__name__}: {err}"
        log.error("%s failed: %s\n%s", where, err, traceback.format_exc())
        return None


def worker(task: str, scale: str, workdir: Path, device: str, threads: int) -> dict[str, Any]:
    out = workdir / f"worker-{task}.json"
    cmd = [
        sys.executable,
        "-m",
        "egml.bench.worker",
        task,
        scale,
        str(workdir),
        device,
        str(threads),
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {task} failed (rc {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(out.read_text())


def limits(training: dict[str, Any], machine: dict[str, Any]) -> dict[str, float]:
    flops, nbytes = training["flops_per_sample"], training["input_bytes_per_sample"]
    compute = value(machine["matmul_flops_per_s"]) / flops if flops else float("inf")
    bandwidth = value(machine["memory_bytes_per_s"]) / nbytes
    return {
        "flops_per_sample": flops,
        "compute_bound_samples_per_s": compute,
        "input_bytes_per_sample": nbytes,
        "bandwidth_bound_samples_per_s": bandwidth,
        "model_only_over_compute_bound": value(training["model_only_samples_per_s"]) / compute,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from egml.bench.generator import measure_generator
    from egml.bench.io_read import measure_io
    from egml.bench.machine import measure_machine
    from egml.bench.physics import measure_physics
    from egml.run.data_source import build_datamodule
    from egml.tasks.registry import task_class

    scale, device = SCALES[args.scale], dev.resolve(args.device)
    threads = args.threads if args.threads is not None else (1 if device.type == "cpu" else 0)
    if threads > 0:
        torch.set_num_threads(threads)
    workdir = (args.workdir or Path(tempfile.gettempdir()) / "egml-bench" / args.scale).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    errors: dict[str, str] = {}
    r: dict[str, Any] = {
        "meta": {
            "scale": scale.name, "device": args.device, "timestamp": stamp, "tasks": args.tasks,
            "repeats": scale.repeats, "threads": threads, "workdir": str(workdir),
            "torch": torch.__version__, "scale_config": scale.__dict__,
        },
        "errors": errors,
    }  # fmt: skip
    r["machine"] = measure_machine(device, scale.repeats)
    for section in ("generator", "io", "training", "inference", "memory", "physics", "limits", "peer"):
        r[section] = {}
    for t in args.tasks if "generator" in args.sections else ():
        r["generator"][t] = guarded(
            errors,
            f"generator.{t}",
            lambda t=t: measure_generator(t, scale.gen_block, scale.repeats, workdir),
        )
    for t in args.tasks if "physics" in args.sections else ():  # the real train stage
        r["physics"][t] = guarded(
            errors, f"physics.{t}", lambda t=t: measure_physics(t, scale, workdir, args.device)
        )
    for t in args.tasks:  # the default data is generated by the first section that needs it
        cfg = compose_config(t, scale, workdir)
        if "io" in args.sections:
            r["io"][t] = guarded(
                errors,
                f"io.{t}",
                lambda t=t, cfg=cfg: measure_io(build_datamodule(cfg, task_class(t)), scale.repeats, workdir),
            )
        if "training" not in args.sections:
            continue
        w = guarded(errors, f"training.{t}", lambda t=t: worker(t, scale.name, workdir, args.device, threads))
        if w is not None:
            r["training"][t], r["inference"][t], r["memory"][t] = w["training"], w["inference"], w["memory"]
            r["limits"][t] = limits(w["training"], r["machine"])
    r["peer"]["electron_dnn"] = peer_section(args, scale, workdir, threads, r, errors)
    return r


def peer_section(
    args: argparse.Namespace,
    scale: Any,
    workdir: Path,
    threads: int,
    r: dict[str, Any],
    errors: dict[str, str],
) -> dict[str, Any]:
    from egml.bench.peer import measure_peer
    from egml.bench.physics import train_run
    from egml.run.data_source import synthetic_files

    if args.no_peer or "peer" not in args.sections or "electron_dnn" not in args.tasks:
        return {
            "weaver_samples_per_s": None,
            "egml_vs_weaver": None,
            "reason": "skipped (--no-peer or electron_dnn not benchmarked)",
        }
    speed = (r["training"].get("electron_dnn") or {}).get("end_to_end_samples_per_s")
    phys = r["physics"].get("electron_dnn") or {}
    if speed is None or "run_dir" not in phys:
        return {
            "weaver_samples_per_s": None,
            "egml_vs_weaver": None,
            "reason": "egml electron_dnn figures missing (see errors)",
        }
    cfg = compose_config("electron_dnn", scale, workdir)
    files = {k: v[0] for k, v in synthetic_files(cfg).items()}

    def train_egml(overrides: list[str], name: str) -> Path:
        return (
            Path(train_run("electron_dnn", scale, workdir, name, overrides)["_run_dir"]) / "predictions.root"
        )

    out = guarded(errors, "peer.electron_dnn", lambda: measure_peer(
        files, speed, Path(phys["run_dir"]) / "predictions.root", scale.for_task("electron_dnn").epochs,
        int(cfg.data.batch_size), workdir, threads, scale.repeats, train_egml))  # fmt: skip
    return out or {
        "weaver_samples_per_s": None,
        "egml_vs_weaver": None,
        "reason": errors.get("peer.electron_dnn"),
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    try:
        results = run(args)
    except ValueError as err:
        print(f"egml.bench: error: {err}", file=sys.stderr)
        return 2
    path = write_results(results, args.out, results["meta"]["timestamp"])
    print(markdown(results))
    print(f"\nresults: {path}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
