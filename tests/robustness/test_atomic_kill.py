"""Interrupted writes (SIGKILL mid-write, real processes): the final path holds the old complete
file or nothing, and the next run recovers without manual cleaning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import uproot

from .conftest import ROOT, quiet_env, write_tree
from .slow_generator import SPEC, SlowGenerator


def start(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=quiet_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


def kill_when(proc: subprocess.Popen, appeared, timeout: float = 120.0) -> None:
    """SIGKILL ``proc`` as soon as ``appeared()`` is true (its temporary exists)."""
    deadline = time.monotonic() + timeout
    while not appeared():
        if proc.poll() is not None:
            pytest.fail(f"writer ended before it was killed: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the writer's temporary never appeared")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def temporaries(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f".{name}.*.tmp"))


def test_generator_killed_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "sample.root"
    write_tree(out, {"x": np.arange(5, dtype=np.float32)})  # an old complete file at the final path
    old = out.read_bytes()
    proc = start(f"""
        from egml.sim.__main__ import main
        main(["task={SPEC}", "n=2e5", "out={out}", "seed=5", "chunk_blocks=1", "progress=false",
              "knobs.sleep_s=0.3"])
    """)
    # mid-write: the temporary exists and already holds baskets of the first chunks
    kill_when(proc, lambda: any(p.stat().st_size > 20_000 for p in temporaries(tmp_path, out.name)))
    assert out.read_bytes() == old  # the old complete file, untouched
    (stale,) = temporaries(tmp_path, out.name)
    os.utime(stale, (time.time() - 3600,) * 2)  # as if the kill happened an hour ago

    from egml.sim.driver import generate

    generate(SlowGenerator, 3000, out, seed=5)  # the next run: no manual cleaning
    with uproot.open(out) as f:
        assert f["tree"].num_entries == 3000
    assert temporaries(tmp_path, out.name) == []  # the stale temporary was removed


def test_default_data_generation_killed_holding_its_lock(tmp_path: Path) -> None:
    from egml.sim.default_data import dataset_key, dataset_path, ensure_dataset

    knobs = {"sleep_s": 0.3}
    path = dataset_path(dataset_key(SlowGenerator, "train", 40_000, seed=2, knobs=knobs), tmp_path)
    proc = start(f"""
        from egml.sim.default_data import ensure_dataset
        ensure_dataset("{SPEC}", "train", 40_000, seed=2, cache_dir="{tmp_path}", knobs={knobs}, progress=False)
    """)
    kill_when(proc, lambda: bool(temporaries(tmp_path, path.name)))
    assert not path.exists()  # no file rather than a partial one
    assert path.with_name(path.name + ".lock").exists()  # the killed process's lock file stays ...
    again = ensure_dataset(
        SlowGenerator, "train", 200_000, seed=2, cache_dir=tmp_path, knobs={"sleep_s": 0.0}
    )
    small = ensure_dataset(SlowGenerator, "train", 2000, seed=2, cache_dir=tmp_path)  # ... and blocks nobody
    for file, n in ((again, 200_000), (small, 2000)):
        with uproot.open(file) as f:
            assert f["tree"].num_entries == n


def test_cache_writer_killed_mid_write(electron_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "columns"
    load = f"""
        from egml.data.cache import load_cached
        t = load_cached("{electron_file}", "tree", {{"et": "p_et_calo", "eta": "p_eta"}}, cache_dir="{cache}")
        print(t.from_cache, len(t))
    """
    # the child slows its own np.save so the kill lands between two column files of the cache
    proc = start("import time, numpy as np\n_save = np.save\n"
                 "np.save = lambda *a, **k: (_save(*a, **k), time.sleep(60))\n" + textwrap.dedent(load))  # fmt: skip
    kill_when(proc, lambda: any(cache.glob(".tmp-*/*.npy")))
    assert [
        p.name for p in cache.iterdir() if not p.name.startswith(".tmp-")
    ] == []  # no cache at the final path
    ok = start(load)
    out, err = ok.communicate(timeout=120)
    assert ok.returncode == 0, err[-2000:]
    assert out.split() == ["False", "1200"]  # rebuilt from ROOT, complete
    again = start(load)
    assert again.communicate(timeout=120)[0].split() == ["True", "1200"]  # and then read back


def test_atomic_write_killed_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    """The writer of predictions.root, metrics.json, exports and run records (egml.atomic)."""
    out = tmp_path / "predictions.root"
    write_tree(out, {"score": np.zeros(3, np.float32)}, tree="predictions")
    old = out.read_bytes()
    proc = start(f"""
        import time
        import numpy as np
        import uproot
        from egml.atomic import atomic_path
        with atomic_path("{out}") as tmp, uproot.recreate(tmp) as f:
            f.mktree("predictions", {{"score": np.float32}})
            f["predictions"].extend({{"score": np.ones(100_000, np.float32)}})
            time.sleep(60)  # killed here, mid-write
    """)
    kill_when(proc, lambda: any(p.stat().st_size > 10_000 for p in temporaries(tmp_path, out.name)))
    assert out.read_bytes() == old
    (stale,) = temporaries(tmp_path, out.name)
    os.utime(stale, (time.time() - 3600,) * 2)

    from egml.run.outputs import write_predictions

    write_predictions(out, {"score": np.arange(7, dtype=np.float32)})
    with uproot.open(out) as f:
        np.testing.assert_array_equal(f["predictions"]["score"].array(library="np"), np.arange(7))
    assert temporaries(tmp_path, out.name) == []
