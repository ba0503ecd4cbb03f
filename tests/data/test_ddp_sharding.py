"""Sharding of training batches over DDP ranks (and DataLoader workers), and mid-epoch resume.

Ranks are given explicitly (``rank``/``world_size``), as the data module does from the
trainer, so every rank's share can be read in one process: each entry must be used exactly once
per epoch over all ranks, every rank must get the same number of batches (DDP steps in lockstep),
and a resumed epoch must yield exactly the batches the killed run had not used.
"""

from __future__ import annotations

import numpy as np
import pytest
from egml_data_samples import PHOTON_MAP
from torch.utils.data import DataLoader

from egml.data import EgmlDataModule
from egml.data.batching import BatchIndexSampler, split_batches
from egml.data.resumable import ResumableLoader


def make_dm(files, **kw) -> EgmlDataModule:
    args = dict(
        files=[str(f) for f in files],
        tree="SinglePhoton",
        branch_map=PHOTON_MAP,
        fields=["event", "pt", "label"],
        batch_size=16,
        seed=5,
    )
    return EgmlDataModule(**(args | kw))


def events(batches) -> list[list[int]]:
    return [[int(e) for e in b["event"]] for b in batches]


@pytest.mark.parametrize("n", [0, 1, 2, 5, 31, 64, 65, 200])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_split_batches_partitions_rows_with_equal_counts(n, world):
    order = np.random.default_rng(n).permutation(n)
    shares = [split_batches(order, 16, r, world) for r in range(world)]
    assert len({len(s) for s in shares}) == 1  # same number of steps on every rank
    assert all(len(b) > 0 for s in shares for b in s)
    used = np.concatenate([b for s in shares for b in s]) if shares[0] else np.zeros(0, int)
    if n >= world:
        np.testing.assert_array_equal(np.sort(used), np.arange(n))  # every row exactly once
    for r in range(world):
        assert len(BatchIndexSampler(n, 16, True, 1, rank=r, world_size=world)) == len(shares[r])


@pytest.mark.parametrize(("world", "workers"), [(2, 0), (3, 0), (2, 2)])
def test_stream_each_train_entry_once_per_epoch_over_ranks(photon_files, world, workers):
    paths, _ = photon_files
    memory = make_dm(paths)
    memory.setup()
    expected = sorted(
        int(e)
        for e in np.asarray(memory.datasets["train"].table.columns["event"])[memory.datasets["train"].rows]
    )
    dm = make_dm(paths, mode="stream", chunk_entries=70)
    dm.setup()
    ds = dm.datasets["train"]
    per_epoch = []
    for epoch in (0, 1):
        shares = []
        for rank in range(world):
            ds.set_epoch(epoch)
            ds.rank, ds.world_size = rank, world
            shares.append(events(DataLoader(ds, batch_size=None, num_workers=workers)))
        assert len({len(s) for s in shares}) == 1, [len(s) for s in shares]
        used = [e for s in shares for b in s for e in b]
        assert sorted(used) == expected  # each training entry exactly once
        per_epoch.append(shares[0])
    assert per_epoch[0] != per_epoch[1]  # reshuffled each epoch


def test_memory_sampler_resume_skips_used_batches_once():
    full = list(BatchIndexSampler(300, 16, shuffle=True, seed=3, rank=1, world_size=2).__iter__())
    sampler = BatchIndexSampler(300, 16, shuffle=True, seed=3, rank=1, world_size=2)
    sampler.set_epoch(1)
    epoch1 = [b.tolist() for b in sampler]
    sampler.resume(1, 4)
    sampler.set_epoch(1)  # what Lightning calls after restoring
    assert [b.tolist() for b in sampler] == epoch1[4:]
    sampler.set_epoch(1)
    assert [b.tolist() for b in sampler] == epoch1  # skipping happens once only
    sampler.set_epoch(0)
    assert [b.tolist() for b in sampler] == [b.tolist() for b in full]


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_resume_through_loader_state(photon_files, workers):
    paths, _ = photon_files
    dm = make_dm(paths, mode="stream", chunk_entries=70, num_workers=workers)
    dm.setup()
    ds = dm.datasets["train"]
    ds.rank, ds.world_size = 0, 1
    ds.set_epoch(1)
    full = events(DataLoader(ds, batch_size=None, num_workers=workers))
    assert len(full) > 6
    saved = ResumableLoader(ds, batch_size=None, num_workers=workers)
    saved.progress = lambda: (1, 5, False)  # killed in epoch 1 after 5 batches
    state = saved.state_dict()
    assert state == {"epoch": 1, "batches": 5, "epoch_done": False}
    ResumableLoader(ds, batch_size=None).load_state_dict(state)
    assert events(DataLoader(ds, batch_size=None, num_workers=workers)) == full[5:]


def test_checkpoint_on_an_epochs_last_batch_resumes_at_the_next_epoch(photon_files):
    paths, _ = photon_files
    dm = make_dm(paths)
    dm.setup()
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(3)
    epoch3 = events(loader)
    loader.load_state_dict({"epoch": 2, "batches": len(loader), "epoch_done": True})
    loader.sampler.set_epoch(3)
    assert events(loader) == epoch3
