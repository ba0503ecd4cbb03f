"""Hash split stability when files are added; cache reuse, rebuild on change, atomic write."""

from __future__ import annotations

import os

import numpy as np
import pytest
from egml_data_samples import PHOTON_MAP, photon_columns, write_root

from egml.data import DataError, Jagged, assign_split, event_keys, file_entry_keys, load, load_cached
from egml.data import cache as cache_mod


def test_split_fractions_and_event_key_determinism():
    keys = event_keys([np.arange(20_000)])
    codes = assign_split(keys, (0.7, 0.2, 0.1))
    frac = np.bincount(codes, minlength=3) / len(codes)
    np.testing.assert_allclose(frac, [0.7, 0.2, 0.1], atol=0.015)  # binomial σ ≈ 0.003
    np.testing.assert_array_equal(codes, assign_split(event_keys([np.arange(20_000)]), (0.7, 0.2, 0.1)))
    assert not np.array_equal(codes, assign_split(event_keys([np.arange(20_000)], salt=1), (0.7, 0.2, 0.1)))
    with pytest.raises(DataError, match="split fractions"):
        assign_split(keys, (0.5, 0.2, 0.1))


def test_adding_a_file_keeps_assigned_rows(tmp_path):
    a = write_root(tmp_path / "a.root", photon_columns(400, 1, 0))
    b = write_root(tmp_path / "b.root", photon_columns(300, 2, 400))
    c = write_root(tmp_path / "c.root", photon_columns(300, 3, 700))
    from egml.data import load_table

    before = load_table([str(a), str(b)], "SinglePhoton", {"ev": "evt_eventNo"})
    after = load_table([str(c), str(a), str(b)], "SinglePhoton", {"ev": "evt_eventNo"})  # new file first
    for keyed in ("event", "file"):

        def codes(t, keyed=keyed):
            keys = (
                event_keys([t.columns["ev"]])
                if keyed == "event"
                else file_entry_keys(t.files, t.file_id, t.entry)
            )
            return dict(zip(t.columns["ev"].tolist(), assign_split(keys).tolist()))

        old, new = codes(before), codes(after)
        assert all(new[ev] == split for ev, split in old.items())
        assert set(new.values()) == {0, 1, 2}


def test_cache_reused_then_rebuilt_when_file_changes(tmp_path, monkeypatch):
    path = write_root(tmp_path / "p.root", photon_columns(120, 4))
    cache_dir = tmp_path / "cache"
    first = load_cached(str(path), "SinglePhoton", PHOTON_MAP, cache_dir=cache_dir)
    assert not first.from_cache and os.path.isdir(first.cache_path)
    assert not [n for n in os.listdir(cache_dir) if n.startswith(".tmp-")]  # no temporary left
    direct = load(str(path), "SinglePhoton", PHOTON_MAP)

    import egml.data.reader as reader

    def no_root(*a, **k):
        raise AssertionError("ROOT was read although the cache is valid")

    monkeypatch.setattr(reader, "load_table", no_root)
    second = load_cached(str(path), "SinglePhoton", PHOTON_MAP, cache_dir=cache_dir)
    assert second.from_cache and second.cache_path == first.cache_path
    assert isinstance(second.columns["img_L2"], np.memmap)
    np.testing.assert_array_equal(second.columns["img_L2"], direct["img_L2"])
    cells = second.columns["cell_e"]
    assert isinstance(cells, Jagged) and cells.to_awkward().tolist() == direct["cell_e"].tolist()
    monkeypatch.undo()

    write_root(path, photon_columns(80, 5))  # the file changes: size and mtime differ
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    third = load_cached(str(path), "SinglePhoton", PHOTON_MAP, cache_dir=cache_dir)
    assert not third.from_cache and third.cache_path != first.cache_path and len(third) == 80


def test_interrupted_cache_write_leaves_nothing(tmp_path, monkeypatch):
    path = write_root(tmp_path / "p.root", photon_columns(30, 4))
    cache_dir = tmp_path / "cache"
    real_save = np.save
    calls = {"n": 0}

    def failing_save(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(cache_mod.np, "save", failing_save)
    with pytest.raises(DataError, match=r"could not write cache .*No space left on device"):
        load_cached(str(path), "SinglePhoton", PHOTON_MAP, cache_dir=cache_dir)
    assert os.listdir(cache_dir) == []
    monkeypatch.undo()
    assert not load_cached(str(path), "SinglePhoton", PHOTON_MAP, cache_dir=cache_dir).from_cache
    assert load_cached(str(path), "SinglePhoton", PHOTON_MAP, cache_dir=cache_dir).from_cache
