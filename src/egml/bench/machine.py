"""The machine's own limits: dense matmul FLOP/s and memory bandwidth, measured here and now."""

from __future__ import annotations

import time

import numpy as np
import torch

from egml.bench import device as dev
from egml.bench.stats import summary


def matmul_flops(device: torch.device, repeats: int, n: int = 512, seconds: float = 0.3) -> dict[str, float]:
    """float32 (bf16 on CUDA) n×n matmul FLOP/s with torch's current thread count."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        n = 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    dev.synchronize(device)
    t0 = time.perf_counter()
    a @ b
    dev.synchronize(device)
    reps = max(1, int(seconds / max(time.perf_counter() - t0, 1e-6)))
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        dev.synchronize(device)
        rates.append(2.0 * n**3 * reps / (time.perf_counter() - t0))
    return summary(rates)


def memory_bandwidth(device: torch.device, repeats: int, mb: int = 128) -> dict[str, float]:
    """Bytes/s of a large copy (read + write counted): the memory-bound limit of an input pipeline."""
    if device.type == "cuda":
        src = torch.empty(mb * 2**20 * 8, dtype=torch.uint8, device=device)
        dst = torch.empty_like(src)
        copy = dst.copy_
    else:
        src = np.ones(mb * 2**20, dtype=np.uint8)
        dst = np.empty_like(src)

        def copy(x: np.ndarray) -> None:
            np.copyto(dst, x)

    copy(src)
    rates = []
    for _ in range(repeats):
        dev.synchronize(device)
        t0 = time.perf_counter()
        copy(src)
        dev.synchronize(device)
        rates.append(2.0 * src.nbytes / (time.perf_counter() - t0))
    return summary(rates)


def measure_machine(device: torch.device, repeats: int) -> dict[str, object]:
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
        "matmul_flops_per_s": matmul_flops(device, repeats),
        "memory_bytes_per_s": memory_bandwidth(device, repeats),
    }
