"""Inference throughput (PyTorch vs ONNX Runtime) and the per-sample costs of a task's model."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from egml.bench import device as dev
from egml.bench.stats import ratio, summary


def _torch_pass(task: nn.Module, batches: list[dict[str, Tensor]], device: torch.device) -> float:
    n = 0
    dev.synchronize(device)
    t0 = time.perf_counter()
    with dev.inference(device):
        for batch in batches:
            task(batch)
            n += len(next(iter(batch.values())))
    dev.synchronize(device)
    return n / max(time.perf_counter() - t0, 1e-9)


def _onnx_pass(session: Any, feeds: list[dict[str, np.ndarray]]) -> float:
    n = 0
    t0 = time.perf_counter()
    for feed in feeds:
        session.run(None, feed)
        n += len(next(iter(feed.values())))
    return n / max(time.perf_counter() - t0, 1e-9)


def onnx_session(task: nn.Module, batch: Mapping[str, Tensor], inputs: list[str]) -> tuple[Any, list[str]]:
    """The task exported by egml's own exporter, in an ONNX Runtime CPU session."""
    import onnxruntime as ort

    from egml.export.onnx import export_onnx

    with dev.uncompiled(task.to("cpu").eval()) as eager:
        blob, names = export_onnx(eager, {k: v.cpu() for k, v in batch.items()}, inputs, {})
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"]), names


def measure_inference(
    task: nn.Module, dm: Any, inputs: list[str], device: torch.device, repeats: int, pass_seconds: float
) -> dict[str, Any]:
    """Samples/s of the eval-size batches of the test split through PyTorch and through ONNX Runtime.

    ONNX Runtime runs on the CPU here (its CPU provider); on a CUDA machine the torch figure is the GPU's.
    """
    task.eval()
    test = list(itertools.islice(dm.test_dataloader(), 2))
    probe = [dev.to_device(b, device) for b in test[:1]]
    _torch_pass(task, probe, device)
    per_s = _torch_pass(task, probe, device)
    n_batches = int(np.clip(pass_seconds * per_s / len(next(iter(test[0].values()))), 1, 20))
    batches = [dev.to_device(b, device) for b in itertools.islice(dm.test_dataloader(), n_batches)]
    session, names = onnx_session(task, test[0], inputs)
    used = {i.name for i in session.get_inputs()}  # the exporter drops inputs the graph never reads
    feeds = [{k: b[k].cpu().numpy() for k in names if k in used} for b in batches]
    task.to(device)
    _onnx_pass(session, feeds[:1])
    torch_rates, onnx_rates = [], []
    for _ in range(repeats):
        torch_rates.append(_torch_pass(task, batches, device))
        onnx_rates.append(_onnx_pass(session, feeds))
    return {
        "batch_size": len(next(iter(test[0].values()))),
        "torch_samples_per_s": summary(torch_rates),
        "onnx_samples_per_s": summary(onnx_rates),
        "onnx_vs_torch": ratio(onnx_rates, torch_rates),
    }


def flops_per_sample(task: Any, batch: Mapping[str, Tensor], device: torch.device) -> float:
    """FLOPs of forward + backward per sample (torch's FLOP counter; matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    task.train()
    counter = FlopCounterMode(display=False)
    with counter:
        loss = task.compute_loss(task(batch), batch, "train")
        loss.backward()
    task.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(next(iter(batch.values())))


def input_bytes_per_sample(batch: Mapping[str, Tensor]) -> float:
    return sum(v.element_size() * v.numel() for v in batch.values()) / len(next(iter(batch.values())))
