"""Where a training step's GPU time goes: the CUDA kernels of one task's step, by total time.

    python benchmarks/gpu/profile_step.py TASK [BATCH ...]

Builds the task on a small default sample, repeats one real batch up to each BATCH, and runs the
benchmark's own step (bf16 autocast, channels-last, torch.compile) under torch.profiler; prints
samples/s per batch size and the top kernels of the largest.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from egml.bench import device as dev
from egml.bench.config import compose_config
from egml.bench.scales import SCALES
from egml.bench.training import train_step
from egml.run.data_source import build_datamodule, normalization_stats
from egml.run.train import build_task
from egml.tasks.registry import task_class


def main(task_name: str, batches: list[int]) -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    workdir = Path(tempfile.gettempdir()) / "egml-profile"
    cfg = compose_config(
        task_name, SCALES["tiny"], workdir, [f"data.synthetic.workers={os.cpu_count() or 1}"], device.type
    )
    dm = build_datamodule(cfg, task_class(task_name))
    dm.setup("fit")
    one = next(iter(dm.train_dataloader()))
    for n in batches:
        task = dev.prepare_model(build_task(cfg, normalization_stats(dm)), task_name, device)
        task.train()
        opt = torch.optim.Adam(task.parameters(), lr=1e-3)  # the task default (no Trainer here)
        reps = -(-n // len(one["label"]))
        batch = dev.to_device({k: v.repeat(reps, *[1] * (v.dim() - 1))[:n] for k, v in one.items()}, device)
        if task_name in dev.CNN_TASKS:
            batch = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
                     for k, v in batch.items()}  # fmt: skip
        for _ in range(5):
            train_step(task, opt, batch, device)
        dev.synchronize(device)
        t0, steps = time.perf_counter(), 30
        for _ in range(steps):
            train_step(task, opt, batch, device)
        dev.synchronize(device)
        print(f"{task_name} batch {n}: {steps * n / (time.perf_counter() - t0):,.0f} samples/s", flush=True)
    kind = ProfilerActivity.CUDA if device.type == "cuda" else ProfilerActivity.CPU
    with profile(activities=[kind]) as prof:
        for _ in range(5):
            train_step(task, opt, batch, device)
        dev.synchronize(device)
    print(
        prof.key_averages().table(sort_by=f"{device.type}_time_total", row_limit=25, max_name_column_width=70)
    )


if __name__ == "__main__":
    main(sys.argv[1], [int(b) for b in sys.argv[2:]] or [8192, 32768])
