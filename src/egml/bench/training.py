"""Training throughput of one task: model only, end to end (egml), naive PyTorch loop.

- model only: batches already in memory (on the device), forward + loss + backward + optimiser step;
- end to end: ``lightning.Trainer.fit`` of the real task on the real ``EgmlDataModule`` (memory mode,
  columns memory-mapped from the cache), with the CSV logger, timed from epoch start to the last
  batch end (validation off, so only training is timed);
- data only: the egml dataloader alone (for diagnosis: what the input pipeline costs);
- naive: the same model and loss, trained by a hand-written loop over a ``TensorDataset`` with
  the default ``DataLoader`` (per-sample indexing and ``default_collate``).

The three are measured round-robin, ``repeats`` times each, with the same batch size and number of
batches, so each ratio pairs measurements taken moments apart.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from egml.bench import device as dev
from egml.bench.stats import ratio, summary


class EpochTimer(L.Callback):
    """Samples per second of each training epoch (epoch start → last batch end)."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self._t0, self._t1, self._n = 0.0, 0.0, 0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._t0, self._t1, self._n = time.perf_counter(), 0.0, 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self._n += len(next(iter(batch.values())))
        self._t1 = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if self._n:
            self.rates.append(self._n / max(self._t1 - self._t0, 1e-9))


def optimizer_of(task: Any) -> torch.optim.Optimizer:
    opt = task.configure_optimizers()
    return opt["optimizer"] if isinstance(opt, dict) else opt


def train_step(
    task: Any, opt: torch.optim.Optimizer, batch: Mapping[str, Tensor], device: torch.device
) -> None:
    with dev.autocast(device):
        loss = task.compute_loss(task(batch), batch, "train")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def timed_loop(
    task: Any, opt: torch.optim.Optimizer, batches: Iterable[Mapping[str, Tensor]], device: torch.device
) -> float:
    """Samples/s of one pass of training steps over ``batches`` (fetching included)."""
    n = 0
    dev.synchronize(device)
    t0 = time.perf_counter()
    for batch in batches:
        batch = dev.to_device(batch, device)
        train_step(task, opt, batch, device)
        n += len(next(iter(batch.values())))
    dev.synchronize(device)
    return n / max(time.perf_counter() - t0, 1e-9)


def lightning_epoch(
    task: Any, dm: Any, cfg: Any, n_batches: int, device: torch.device, log_dir: str
) -> float:
    """One epoch of ``n_batches`` through the real Trainer + DataModule; samples/s."""
    from lightning.pytorch.loggers import CSVLogger

    timer = EpochTimer()
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=n_batches,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        deterministic=bool(cfg.trainer.deterministic),
        log_every_n_steps=int(cfg.trainer.log_every_n_steps),
        logger=CSVLogger(log_dir, name="bench"),
        callbacks=[timer],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **dev.lightning_kwargs(device),
    )
    trainer.fit(task, datamodule=dm)
    task.to(device)  # Lightning's teardown leaves the module on the CPU
    return timer.rates[-1]


def loader_pass(loader: Iterable[Mapping[str, Tensor]], n_batches: int) -> float:
    """Samples/s of the egml data path alone (batches gathered from the cache, no model)."""
    n = 0
    t0 = time.perf_counter()
    for batch in itertools.islice(loader, n_batches):
        n += len(next(iter(batch.values())))
    return n / max(time.perf_counter() - t0, 1e-9)


def naive_tensors(dataset: Any, task: Any, fields: list[str], device: torch.device) -> dict[str, Tensor]:
    """The training split as plain tensors: only the fields the loss needs if that suffices."""
    full = dataset[np.arange(len(dataset))]
    wanted = [f for f in full if f in fields or f.removesuffix("_mask") in fields or f in ("label", "weight")]
    probe = {k: v[:8] for k, v in full.items() if k in wanted}
    try:
        with torch.no_grad():
            task.compute_loss(task(dev.to_device(probe, device)), dev.to_device(probe, device), "train")
    except (
        KeyError,
        ValueError,
        RuntimeError,
        TypeError,
    ):  # the loss reads more fields (e.g. E_cluster): give it all
        wanted = list(full)
    return {k: full[k] for k in wanted}


def naive_batches(
    tensors: Mapping[str, Tensor], batch_size: int, n_batches: int
) -> Iterable[dict[str, Tensor]]:
    """What a user writes by hand: TensorDataset + default DataLoader (shuffled, per-sample collate)."""
    names = list(tensors)
    loader = DataLoader(TensorDataset(*tensors.values()), batch_size=batch_size, shuffle=True)
    return (dict(zip(names, items)) for items in itertools.islice(loader, n_batches))


def measure_training(
    cfg: Any, dm: Any, task: nn.Module, device: torch.device, repeats: int, pass_seconds: float, log_dir: str
) -> dict[str, Any]:
    """Every training figure of one task; ``dm`` is set up, ``task`` built on its statistics."""
    loader = dm.train_dataloader()
    batch_size = int(dm.batch_size)
    opt = optimizer_of(task)
    task.train()
    # warm-up (also sizes the passes): a few in-memory steps
    warm = [dev.to_device(b, device) for b in itertools.islice(loader, 4)]
    timed_loop(task, opt, warm[:1], device)
    per_s = timed_loop(task, opt, warm, device)
    n_batches = int(np.clip(pass_seconds * per_s / batch_size, 3, len(loader)))
    resident = [dev.to_device(b, device) for b in itertools.islice(dm.train_dataloader(), n_batches)]
    tensors = naive_tensors(dm.datasets["train"], task, list(cfg.data.inputs), device)
    model_only, e2e, naive, data_only = [], [], [], []
    for _ in range(repeats):
        data_only.append(loader_pass(dm.train_dataloader(), n_batches))
        model_only.append(timed_loop(task, opt, resident, device))
        e2e.append(lightning_epoch(task, dm, cfg, n_batches, device, log_dir))
        task.train()
        naive.append(timed_loop(task, opt, naive_batches(tensors, batch_size, n_batches), device))
    return {
        "batch_size": batch_size,
        "batches_per_pass": n_batches,
        "model_only_samples_per_s": summary(model_only),
        "end_to_end_samples_per_s": summary(e2e),
        "pipeline_efficiency": ratio(e2e, model_only),
        "naive_loop_samples_per_s": summary(naive),
        "vs_naive": ratio(e2e, naive),
        # diagnosis: the data path alone, and the time per sample neither it nor the model explains
        "data_only_samples_per_s": summary(data_only),
        "framework_overhead_fraction": summary(
            [1 - e * (1 / m + 1 / d) for e, m, d in zip(e2e, model_only, data_only)]
        ),
    }
