"""The embedded default data: generated once into a cache folder, then reused.

``ensure_dataset(task, split, n, seed=...)`` returns the path of a ROOT file holding ``n``
candidates of ``task`` for ``split``. The file name carries a content key (task, split,
n, seed, detector seed, shift, knobs, generator and physics versions), so any change
of these gives a new file and a stale file is never reused. An exclusive ``fcntl`` lock
per file makes concurrent processes (DDP ranks, SLURM array jobs) generate it only once;
the others wait and then reuse it. Files appear atomically (see :mod:`egml.sim.writer`).

Each split draws from its own master seed, ``rng.split_seed(seed, split)``, so train/val/
test are independent samples, while the detector seed (one detector instance, §0 rule 5)
is shared. A shifted test sample (§0 rule 6) keeps the split's seed: it holds the same
generated candidates seen through the shifted detector, which makes robustness
comparisons paired.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from egml.sim import registry
from egml.sim.base import BLOCK_SIZE, SIM_VERSION, GenConfig, Shift
from egml.sim.rng import split_seed

CACHE_ENV = "EGML_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$EGML_CACHE_DIR``, else ``$XDG_CACHE_HOME/egml/data``, else ``~/.cache/egml/data``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "egml" / "data"


def dataset_key(
    task: str | type,
    split: str,
    n: int,
    *,
    seed: int,
    detector_seed: int = GenConfig.detector_seed,
    shift: Shift | str | dict[str, float] | None = None,
    knobs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything that determines the content of a default-data file."""
    cls = registry.generator_class(task)
    return {
        "task": getattr(cls, "task", str(task)),
        "generator": registry.import_path(cls),
        "generator_version": str(getattr(cls, "version", SIM_VERSION)),
        "physics_version": SIM_VERSION,
        "block_size": BLOCK_SIZE,
        "split": split,
        "n": int(n),
        "seed": int(seed),
        "detector_seed": int(detector_seed),
        "shift": Shift.coerce(shift).__dict__,
        "knobs": dict(sorted((knobs or {}).items())),
    }


def dataset_path(key: dict[str, Any], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Cache file of a dataset key: ``<task>_<split>_<n>_<shift>_<hash12>.root``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    shift = Shift.coerce(key["shift"]).label().replace(",", "_").replace("=", "")
    name = f"{key['task']}_{key['split']}_{key['n']}_{shift}_{digest}.root"
    return (Path(cache_dir).expanduser() if cache_dir else default_cache_dir()) / name


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:  # the lock file is left in place: removing it would race
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_dataset(
    task: str | type,
    split: str,
    n: int,
    *,
    seed: int,
    shift: Shift | str | dict[str, float] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    knobs: dict[str, Any] | None = None,
    detector_seed: int = GenConfig.detector_seed,
    workers: int = 1,
    progress: bool | None = None,
) -> Path:
    """Path of the cached ROOT file of ``n`` candidates of ``task``/``split``; generated if absent."""
    key = dataset_key(task, split, n, seed=seed, detector_seed=detector_seed, shift=shift, knobs=knobs)
    path = dataset_path(key, cache_dir)
    if path.exists():
        return path
    with _file_lock(path.with_name(path.name + ".lock")):
        if path.exists():  # another process generated it while we waited
            return path
        from egml.sim.driver import generate

        generate(
            task,
            n,
            path,
            seed=split_seed(seed, split),
            detector_seed=detector_seed,
            shift=shift,
            knobs=knobs,
            workers=workers,
            progress=progress,
        )
    return path
