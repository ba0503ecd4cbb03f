"""One task's training, memory and inference figures, in a process of its own.

    python -m egml.bench.worker TASK SCALE WORKDIR DEVICE THREADS OUT_JSON

A fresh process per task keeps the peak RSS of each training apart (``VmHWM`` is read after
the data set-up and a first end-to-end epoch, before the benchmark's own copies of the data).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

import torch

from egml.bench import device as dev
from egml.bench.config import compose_config
from egml.bench.inference import flops_per_sample, input_bytes_per_sample, measure_inference
from egml.bench.scales import SCALES
from egml.bench.training import lightning_epoch, measure_training


def peak_rss_mb() -> float:
    """Peak resident set of this process: ``VmHWM`` (ru_maxrss survives exec, so a child started
    from a big parent would report the parent's peak)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def run(task_name: str, scale_name: str, workdir: Path, device_name: str, threads: int) -> dict[str, Any]:
    import lightning as L

    from egml.run.data_source import build_datamodule, normalization_stats
    from egml.run.train import build_task
    from egml.tasks.registry import task_class

    scale, device = SCALES[scale_name], dev.resolve(device_name)
    if threads > 0:
        torch.set_num_threads(threads)
    batch = scale.for_task(task_name).batch_size
    extra = [] if batch is None else [f"data.batch_size={batch}", f"data.eval_batch_size={batch}"]
    cfg = compose_config(task_name, scale, workdir, extra, device=device_name)
    L.seed_everything(int(cfg.seed), verbose=False)
    dm = build_datamodule(cfg, task_class(task_name))
    dm.setup("fit")
    task = dev.prepare_model(build_task(cfg, normalization_stats(dm)), task_name, device)
    log_dir = str(workdir / "logs" / task_name)
    first = min(len(dm.train_dataloader()), 20)
    lightning_epoch(task, dm, cfg, first, device, log_dir)  # the real path once, then its memory
    memory = {"peak_rss_mb": peak_rss_mb(), "train_entries": len(dm.datasets["train"])}
    batch = dev.to_device(next(iter(dm.train_dataloader())), device)
    cost = {
        "flops_per_sample": flops_per_sample(task, batch, device),
        "input_bytes_per_sample": input_bytes_per_sample(batch),
    }
    training = measure_training(cfg, dm, task, device, scale.repeats, scale.pass_seconds, log_dir)
    training |= cost
    inference = measure_inference(task, dm, list(cfg.data.inputs), device, scale.repeats, scale.pass_seconds)
    return {
        "training": training,
        "inference": inference,
        "memory": memory,
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> None:
    task, scale, workdir, device, threads, out = argv or sys.argv[1:]
    result = run(task, scale, Path(workdir), device, int(threads))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
