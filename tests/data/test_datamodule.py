"""Batched in-memory and streaming datasets, and the generic EgmlDataModule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from egml_data_samples import PHOTON_MAP, photon_columns, write_root

from egml.data import DataError, EgmlDataModule, Normalization, load

FIELDS = ["event", "pt", "eta", "label", "img_L2", "cell_e"]


def make_dm(files, **kw) -> EgmlDataModule:
    args = dict(
        files=[str(f) for f in files],
        tree="SinglePhoton",
        branch_map=PHOTON_MAP,
        fields=FIELDS,
        batch_size=64,
    )
    return EgmlDataModule(**(args | kw))


def events_of(loader) -> list[int]:
    return [int(e) for batch in loader for e in batch["event"]]


def test_memory_batches_padding_and_split_partition(photon_files, tmp_path):
    paths, _ = photon_files
    dm = make_dm(paths, cache_dir=tmp_path / "cache", normalization=["pt", "img_L2", "cell_e"])
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["img_L2"].shape == (64, 11, 7) and batch["img_L2"].dtype == torch.float32
    assert batch["weight"].dtype == torch.float32 and torch.all(batch["weight"] == 1)
    width = int(batch["cell_e_mask"].sum(1).max())
    assert batch["cell_e"].shape == (64, width) and not batch["cell_e"][~batch["cell_e_mask"]].any()
    # a batch row equals the file row it came from
    direct = load([str(p) for p in paths], "SinglePhoton", PHOTON_MAP)
    row = int(np.flatnonzero(direct["event"] == int(batch["event"][0]))[0])
    np.testing.assert_array_equal(batch["img_L2"][0].numpy(), direct["img_L2"][row])
    n = int(batch["cell_e_mask"][0].sum())
    np.testing.assert_array_equal(batch["cell_e"][0, :n].numpy(), direct["cell_e"][row].to_numpy())
    splits = {s: events_of(getattr(dm, f"{s}_dataloader")()) for s in ("train", "val", "test")}
    everything = sorted(e for events in splits.values() for e in events)
    assert everything == list(range(500))  # a partition: each event in exactly one split
    assert 0.7 < len(splits["train"]) / 500 < 0.9
    # normalisation from the training rows only, and it survives the checkpoint round trip
    train_pt = direct["pt"][np.isin(direct["event"], splits["train"])]
    mean, std = dm.normalization.stats["pt"]
    assert mean == pytest.approx(train_pt.mean(), rel=1e-6) and std == pytest.approx(train_pt.std(), rel=1e-5)
    restored = Normalization.from_dict(dm.state_dict()["normalization"])
    assert restored.stats == dm.normalization.stats
    assert abs(float(restored.apply(batch)["pt"].mean())) < 0.5


def test_epochs_reshuffle_deterministically(photon_files):
    paths, _ = photon_files
    dm = make_dm(paths, seed=3)
    loader = dm.train_dataloader()
    first = events_of(loader)
    loader.sampler.set_epoch(1)
    second = events_of(loader)
    assert first != second and sorted(first) == sorted(second)
    assert events_of(make_dm(paths, seed=3).train_dataloader()) == first


@pytest.mark.parametrize("split", ["train", "test"])
def test_streaming_with_two_workers_matches_memory(photon_files, split):
    paths, _ = photon_files
    memory = sorted(events_of(getattr(make_dm(paths), f"{split}_dataloader")()))
    stream_dm = make_dm(paths, mode="stream", num_workers=2, chunk_entries=70)
    seen = events_of(getattr(stream_dm, f"{split}_dataloader")())
    assert len(seen) == len(set(seen))  # each entry exactly once
    assert sorted(seen) == memory


def test_explicit_split_files_and_reweighting_weights(tmp_path):
    train = write_root(tmp_path / "train.root", photon_columns(400, 7))
    test = write_root(tmp_path / "test.root", photon_columns(100, 8, 400))
    rw = {
        "pt": "pt",
        "eta": "eta",
        "label": "label",
        "signal_labels": [1],
        "pt_bins": [20, 40, 60, 100],
        "eta_bins": [0, 1.37, 2.5],
    }
    dm = EgmlDataModule(
        train_files=str(train),
        test_files=str(test),
        tree="SinglePhoton",
        branch_map=PHOTON_MAP,
        fields=["event", "pt", "eta", "label"],
        reweighting=rw,
        batch_size=500,
    )
    batch = next(iter(dm.train_dataloader()))
    assert torch.all(batch["weight"][batch["label"] == 1] == 1)
    bkg = batch["label"] == 0
    assert batch["weight"][bkg].mean() == pytest.approx(1.0, rel=1e-5)
    assert dm.state_dict()["reweighting"]["pt_bins"] == [20, 40, 60, 100]
    assert sorted(events_of(dm.test_dataloader())) == list(range(400, 500))
    with pytest.raises(DataError, match="no val data"):
        dm.val_dataloader()


def test_bad_datamodule_config(photon_files):
    paths, _ = photon_files
    with pytest.raises(DataError, match=r"data.mode='disk'"):
        make_dm(paths, mode="disk")
    with pytest.raises(DataError, match="split_key branch 'evtNo'"):
        make_dm(paths, split_key="evtNo").setup()
    with pytest.raises(DataError, match="constant field"):
        make_dm(paths, normalization=["label"], selection="label == 1").setup()
