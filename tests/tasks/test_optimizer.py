"""The tasks' optimiser: fused Adam where torch has the kernel, the per-tensor loop where
Lightning must unscale 16-bit gradients before clipping."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from egml.models.electron_dnn import ElectronDNN
from egml.tasks.electron_dnn import ElectronDNNTask


def _task() -> ElectronDNNTask:
    return ElectronDNNTask(ElectronDNN(feature_names=("a", "b")))


def test_fused_adam_on_cpu_and_one_step_moves_every_parameter() -> None:
    task = _task()
    opt = task.configure_optimizers()
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["fused"] is True
    before = [p.detach().clone() for p in task.parameters()]
    for p in task.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, task.parameters()))


def test_not_fused_with_fp16_amp_and_clipping() -> None:
    task = _task()
    task._trainer = SimpleNamespace(gradient_clip_val=1.0, precision="16-mixed")
    assert task.optimizer_kwargs() == {}
    task._trainer = SimpleNamespace(gradient_clip_val=1.0, precision="bf16-mixed")
    assert task.optimizer_kwargs() == {"fused": True}
