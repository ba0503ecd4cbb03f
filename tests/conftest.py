"""Shared fixtures: a session-wide cache of generated samples, and in-process runs of egml.

Under pytest-xdist (``make test`` runs ``-n 2 --dist loadscope``) each test module goes to one
worker, so its module-scoped fixtures are built once, and all of ``tests/slurm`` goes to a single
worker that starts one private cluster. Each worker gets an equal share of the cores for
torch/OpenMP, which the processes the tests start inherit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:  # set before torch is imported, so the intra-op pool is sized by it
    _threads = str(max(1, (os.cpu_count() or 1) // _WORKERS))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)

#: directories whose modules start long runs: scheduled first, so the workers end close together
_HEAVY_FIRST = ("tests/bench/", "tests/slurm/", "tests/notebooks/", "tests/run/", "tests/tasks/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _WORKERS <= 1:
        return

    def rank(item: pytest.Item) -> int:
        return next((i for i, d in enumerate(_HEAVY_FIRST) if item.nodeid.startswith(d)), len(_HEAVY_FIRST))

    # stable: collection order within a rank (xdist keeps it with --no-loadscope-reorder)
    items.sort(key=rank)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """``--dist loadscope`` with every SLURM module in one scope (one cluster per session).

    Not ``--dist loadgroup`` with ``xdist_group`` marks: xdist 3.8 tags grouped tests through
    ``item._nodeid``, which pytest 9.2 no longer reads, so the groups are silently ignored."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/slurm" if nodeid.startswith("tests/slurm/") else nodeid.split("::", 1)[0]

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def egml_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache dir for the whole session, so each tiny synthetic sample is generated once.

    Shared by the xdist workers (their base temp dirs have a common parent); concurrent
    generation of one file is serialised by the cache's own file lock.
    """
    if _WORKERS > 1:
        shared = tmp_path_factory.getbasetemp().parent / "egml-cache"
        shared.mkdir(exist_ok=True)
        return shared
    return tmp_path_factory.mktemp("egml-cache")


def _tiny_overrides(
    cache: Path, run_dir: Path, n_train: int = 3000, n_val: int = 800, n_test: int = 2000
) -> list[str]:
    """Overrides for a tiny, fast run: debug trainer, CSV logger, small synthetic samples."""
    return [
        "trainer=debug",
        "logger=csv",
        "callbacks.progress_bar=none",
        f"paths.cache_dir={cache}",
        f"paths.output_dir={run_dir}",
        f"hydra.run.dir={run_dir}",
        f"data.synthetic.n_train={n_train}",
        f"data.synthetic.n_val={n_val}",
        f"data.synthetic.n_test={n_test}",
    ]


def _run_in_process(overrides: list[str]) -> float | None:
    """Compose the real config tree and run its stage in this process (no Hydra app start-up)."""
    from hydra import compose, initialize_config_dir

    from egml.cli import CONFIG_DIR
    from egml.run.stages import run_stage

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[o for o in overrides if not o.startswith("hydra.")])
    return run_stage(cfg)


@pytest.fixture(scope="session")
def tiny_overrides():
    return _tiny_overrides


@pytest.fixture(scope="session")
def run_egml():
    return _run_in_process
