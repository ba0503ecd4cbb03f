"""Read-throughput benchmark: a photon-image-like file from ROOT and from the cache.

    python -m egml.data.throughput --entries 200000 --workdir /tmp/egml-throughput

Writes ``SinglePhoton`` with y_img_L2 float[11][7], y_img_L1 float[2][56], y_img_L3 float[11][4]
and a few scalars (LZ4, as recommended for reading speed), then times: decoding the file with
:func:`egml.data.load`; the first cached load (decode + write); reading every column back from the
memory-mapped cache; and one epoch of batches through the in-memory dataset. MB are the
uncompressed bytes of the loaded columns. Times are wall-clock on whatever machine runs it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import uproot

from egml.data.cache import load_cached, read_cache

BRANCH_MAP = {
    "img_L1": "y_img_L1",
    "img_L2": "y_img_L2",
    "img_L3": "y_img_L3",
    "pt": "y_pt",
    "eta": "y_eta",
    "phi": "y_phi",
    "label": "label",
    "event": "evt_eventNo",
}


def write_sample(path: Path, n: int, seed: int = 0, block: int = 50_000) -> None:
    """A 200k-entry-scale photon-image file, written in blocks (bounded memory)."""
    rng = np.random.default_rng(seed)
    with uproot.recreate(path, compression=uproot.LZ4(1)) as f:
        for start in range(0, n, block):
            m = min(block, n - start)
            data = {
                "evt_eventNo": np.arange(start, start + m, dtype=np.int64),
                "y_pt": rng.uniform(20, 100, m).astype(np.float32),
                "y_eta": rng.uniform(-2.37, 2.37, m).astype(np.float32),
                "y_phi": rng.uniform(-np.pi, np.pi, m).astype(np.float32),
                "label": rng.integers(0, 2, m).astype(np.int32),
                "y_img_L1": rng.exponential(0.1, (m, 2, 56)).astype(np.float32),
                "y_img_L2": rng.exponential(1.0, (m, 11, 7)).astype(np.float32),
                "y_img_L3": rng.exponential(0.05, (m, 11, 4)).astype(np.float32),
            }
            if start == 0:
                f.mktree("SinglePhoton", data)
            else:
                f["SinglePhoton"].extend(data)


def measure(n: int, workdir: Path) -> dict[str, float]:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "photons.root"
    if not path.exists():
        write_sample(path, n)
    cache_dir = workdir / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    out: dict[str, float] = {"entries": n, "file_MB": path.stat().st_size / 1e6}

    t0 = time.perf_counter()
    first = load_cached(str(path), "SinglePhoton", BRANCH_MAP)  # decode only (no cache)
    t_root = time.perf_counter() - t0
    mb = sum(np.asarray(c).nbytes for c in first.columns.values()) / 1e6
    del first
    t0 = time.perf_counter()
    built = load_cached(str(path), "SinglePhoton", BRANCH_MAP, cache_dir=cache_dir)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    cached = read_cache(str(built.cache_path))
    assert cached is not None
    total = sum(
        float(np.asarray(c).sum(dtype=np.float64)) for c in cached.columns.values()
    )  # touch every byte
    t_cache = time.perf_counter() - t0

    from egml.data.batching import BatchIndexSampler
    from egml.data.datasets import BatchedDataset

    dataset = BatchedDataset(cached, np.arange(len(cached)))
    t0 = time.perf_counter()
    for positions in BatchIndexSampler(len(dataset), 1024, shuffle=True, seed=0):
        dataset[positions]
    t_epoch = time.perf_counter() - t0
    out |= {
        "columns_MB": mb,
        "root_s": t_root,
        "root_entries_per_s": n / t_root,
        "root_MB_per_s": mb / t_root,
        "cache_build_s": t_build,
        "cache_read_s": t_cache,
        "cache_entries_per_s": n / t_cache,
        "cache_MB_per_s": mb / t_cache,
        "shuffled_batches_entries_per_s": n / t_epoch,
        "checksum": total,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/egml-throughput"))
    args = parser.parse_args()
    print(json.dumps(measure(args.entries, args.workdir), indent=1))


if __name__ == "__main__":
    main()
