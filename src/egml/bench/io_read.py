"""Read speed of a task's default data: decoding the ROOT file vs reading egml's column cache."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from egml.bench.stats import summary
from egml.data.cache import load_cached, read_cache
from egml.data.files import resolve_files
from egml.data.store import Jagged


def _nbytes(columns: dict[str, Any]) -> int:
    total = 0
    for c in columns.values():
        parts = (c.offsets, c.content) if isinstance(c, Jagged) else (c,)
        total += sum(np.asarray(p).nbytes for p in parts)
    return total


def _touch(columns: dict[str, Any]) -> float:
    """Sum of every value, so that every byte of the memory-map is really read."""
    total = 0.0
    for c in columns.values():
        for p in (c.offsets, c.content) if isinstance(c, Jagged) else (c,):
            total += float(np.asarray(p).sum(dtype=np.float64))
    return total


def root_compression(path: str) -> str:
    """Compression recorded by egml.sim in the file's ``gen_config`` metadata (else uproot's view)."""
    with uproot.open(path) as f:
        if "gen_config" in f:
            meta = json.loads(str(f["gen_config"]))
            if "compression" in meta:
                return str(meta["compression"])
        return str(f.file.compression)


def measure_io(dm: Any, repeats: int, workdir: Path) -> dict[str, Any]:
    """``dm``: a (not yet set up) EgmlDataModule; its training files, tree and fields are read."""
    files = resolve_files(dm.split_files["train"] or dm.files)
    args = (files, dm.tree, dm.specs, None, dm.selection, dm.objects, None, dm.nonfinite)
    cache_dir = workdir / "io-cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    built = load_cached(*args, cache_dir=cache_dir)
    n, mb = len(built), _nbytes(built.columns) / 1e6
    root_rates, cache_rates = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        load_cached(*args)  # decode only: no cache dir
        root_rates.append(n / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        cached = read_cache(str(built.cache_path))
        assert cached is not None
        _touch(cached.columns)
        cache_rates.append(n / (time.perf_counter() - t0))
    shutil.rmtree(cache_dir, ignore_errors=True)
    per_mb = mb / n
    return {
        "entries": n,
        "columns_MB": mb,
        "file_MB": sum(Path(f).stat().st_size for f in files) / 1e6,
        "root_entries_per_s": summary(root_rates),
        "root_MB_per_s": summary([r * per_mb for r in root_rates]),
        "cache_entries_per_s": summary(cache_rates),
        "cache_MB_per_s": summary([r * per_mb for r in cache_rates]),
        "compression": {"root": root_compression(files[0]), "cache": "none (.npy, memory-mapped)"},
    }
