"""Default-data cache: generated once, reused, keyed by content, locked against concurrent ranks."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import uproot

from egml.sim.default_data import dataset_key, default_cache_dir, ensure_dataset
from egml.sim.rng import split_seed

TOY = "toy_generator:ToyGenerator"


def _meta(path: Path) -> dict:
    with uproot.open(path) as f:
        return json.loads(str(f["gen_config"]))


def _events(path: Path) -> np.ndarray:
    with uproot.open(path) as f:
        return f["toy/Tree"]["evt_eventNo"].array(library="np")


@pytest.fixture
def toy_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "generations.log"  # one line per toy generator constructed
    monkeypatch.setenv("EGML_TOY_LOG", str(log))
    return log


def test_generated_once_then_reused(tmp_path: Path, toy_log: Path) -> None:
    first = ensure_dataset(TOY, "train", 300, seed=1, cache_dir=tmp_path / "cache")
    stat = first.stat()
    again = ensure_dataset(TOY, "train", 300, seed=1, cache_dir=tmp_path / "cache")
    assert again == first and again.stat().st_mtime_ns == stat.st_mtime_ns
    assert toy_log.read_text().count("\n") == 1
    assert len(_events(first)) == 300
    assert _meta(first)["seeds"]["master"] == split_seed(1, "train")


def test_default_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGML_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    path = ensure_dataset(TOY, "test", 100, seed=1)
    assert path.parent == tmp_path / "env"
    monkeypatch.delenv("EGML_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "egml" / "data"


def test_key_changes_give_new_files(tmp_path: Path) -> None:
    args = {"seed": 1, "cache_dir": tmp_path}
    base = ensure_dataset(TOY, "train", 200, **args)
    variants = [
        ensure_dataset(TOY, "test", 200, **args),
        ensure_dataset(TOY, "train", 201, **args),
        ensure_dataset(TOY, "train", 200, seed=2, cache_dir=tmp_path),
        ensure_dataset(TOY, "train", 200, shift="noise", **args),
        ensure_dataset(TOY, "train", 200, knobs={"accept": 0.5}, **args),
    ]
    assert len({base, *variants}) == 6
    assert "noise" in variants[3].name and variants[3].name.startswith("toy_train_200_")
    # the same content under an equivalent spelling maps to the same file
    assert ensure_dataset(TOY, "train", 200, shift={"noise": 1.1}, **args) == variants[3]
    assert dataset_key(TOY, "train", 200, seed=1)["generator_version"] == "toy-1"


def test_splits_are_independent_samples_of_one_detector(tmp_path: Path) -> None:
    train = ensure_dataset(TOY, "train", 500, seed=1, cache_dir=tmp_path)
    test = ensure_dataset(TOY, "test", 500, seed=1, cache_dir=tmp_path)
    assert not np.intersect1d(_events(train), _events(test)).size  # 62-bit random event numbers
    m_train, m_test = _meta(train), _meta(test)
    assert m_train["seeds"]["master"] != m_test["seeds"]["master"]
    assert m_train["seeds"]["detector_seed"] == m_test["seeds"]["detector_seed"]


def test_concurrent_callers_generate_once(tmp_path: Path, toy_log: Path) -> None:
    """Two ranks asking at once: one generates (slowly), the other waits on the lock and reuses it."""
    cache = tmp_path / "cache"
    paths: list[Path] = []
    errors: list[BaseException] = []

    def rank() -> None:
        try:
            paths.append(ensure_dataset(TOY, "train", 200, seed=4, cache_dir=cache, knobs={"sleep_s": 0.5}))
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=rank) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(paths) == 2 and paths[0] == paths[1]
    assert toy_log.read_text().count("\n") == 1
    assert sorted(p.name for p in cache.iterdir()) == sorted([paths[0].name, paths[0].name + ".lock"])


def test_bad_split() -> None:
    with pytest.raises(ValueError, match="split must be"):
        ensure_dataset(TOY, "", 10, seed=1)
