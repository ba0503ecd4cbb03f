"""Device-resident splits (data.resident): the same batches as the host gather, on the device."""

from __future__ import annotations

import pytest
import torch
from test_datamodule import make_dm as make_host_dm

from egml.data import DataError
from egml.data.resident import ResidentDataset


def make_dm(files, **kw):
    return make_host_dm(files, eval_batch_size=16, **kw)  # several test batches to compare


def epoch(loader) -> list[dict[str, torch.Tensor]]:
    return [{k: v.cpu() for k, v in batch.items()} for batch in loader]


def assert_same_batches(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b) and len(a) > 1
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            assert x[k].dtype == y[k].dtype, k
            torch.testing.assert_close(x[k], y[k], rtol=0, atol=0, msg=k)


@pytest.mark.parametrize("split", ["train", "test"])
def test_resident_batches_equal_host_batches(photon_files, tmp_path, split):
    paths, _ = photon_files
    host = make_dm(paths, cache_dir=tmp_path / "cache", resident="off")
    dev = make_dm(paths, cache_dir=tmp_path / "cache", resident="on")
    for dm in (host, dev):
        dm.setup("fit")
    loader = getattr(dev, f"{split}_dataloader")()
    assert isinstance(loader.dataset, ResidentDataset)
    # jagged cells padded per batch (cell_e + cell_e_mask), fixed images, the weight column
    assert_same_batches(epoch(getattr(host, f"{split}_dataloader")()), epoch(loader))
    assert {"cell_e_mask", "weight", "img_L2"} <= set(next(iter(loader)))


def test_auto_keeps_host_gather_on_the_cpu(photon_files):
    dm = make_dm(photon_files[0])
    dm.setup("fit")
    assert not isinstance(dm.train_dataloader().dataset, ResidentDataset)


def test_unknown_mode_names_the_config_key(photon_files):
    with pytest.raises(DataError, match=r"data\.resident"):
        make_dm(photon_files[0], resident="gpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_holds_the_split_on_the_gpu(photon_files):
    dm = make_dm(photon_files[0])
    dm.setup("fit")
    device = torch.device("cuda")
    resident = ResidentDataset(dm.datasets["train"], device)
    batch = resident[list(range(64))]
    assert all(v.device.type == "cuda" for v in batch.values())
    host = dm.datasets["train"][list(range(64))]
    for k, v in host.items():
        torch.testing.assert_close(batch[k].cpu(), v, rtol=0, atol=0)
