"""The CUDA path of the benchmark: bf16 autocast, torch.compile, channels-last, device-resident batches.

On CPU every helper is a no-op, so the same measurement code serves both devices.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

CNN_TASKS = ("photon_cnn", "merged_photon")  # image models: channels-last helps their convolutions


def resolve(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible (torch.cuda.is_available() is False)")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"--device {device!r}; expected 'cpu' or 'cuda'")
    return torch.device(device)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (the loss is computed in float32 by every task), nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_model(
    task: nn.Module, task_name: str, device: torch.device, compile_model: bool = True
) -> nn.Module:
    """Move the task to ``device``; on CUDA use channels-last for CNNs and compile the network."""
    task.to(device)
    if device.type != "cuda":
        return task
    if task_name in CNN_TASKS:
        task.to(memory_format=torch.channels_last)
    if compile_model and hasattr(task, "model"):
        task.model = torch.compile(task.model, dynamic=False)  # fixed batch size: one graph
    return task


@contextlib.contextmanager
def uncompiled(task: nn.Module) -> Iterator[nn.Module]:
    """``task`` with its eager network in place of the ``torch.compile`` wrapper (ONNX tracing
    cannot go through dynamo)."""
    compiled = getattr(task, "model", None)
    original = getattr(compiled, "_orig_mod", None)
    if original is None:
        yield task
        return
    task.model = original
    try:
        yield task
    finally:
        task.model = compiled


def to_device(batch: Mapping[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    """A batch on ``device`` (non-blocking; on CUDA the batches stay resident once moved)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lightning_kwargs(device: torch.device) -> dict[str, Any]:
    """Trainer arguments of the end-to-end run on ``device``."""
    if device.type == "cuda":
        return {"accelerator": "gpu", "devices": 1, "precision": "bf16-mixed"}
    return {"accelerator": "cpu", "devices": 1}


@contextlib.contextmanager
def inference(device: torch.device) -> Iterator[None]:
    with torch.inference_mode(), autocast(device):
        yield
