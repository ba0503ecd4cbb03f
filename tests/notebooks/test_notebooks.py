"""Every notebook in notebooks/ executes without error, at tiny sizes, on this venv's Python.

The notebooks read their sizes, work dir, sample cache and extra overrides from ``EGML_TOUR_*``
environment variables (first code cell); the kernel inherits them. The samples use the sizes
of tests/tasks/test_plots.py (and of the tiny benchmark) and the session cache, so a session
that ran tests/bench reuses the generated files. Only the eval stage writes plots here (the
notebook shows those); tests/tasks/test_plots.py checks the train stage's. The kernel is a
kernelspec written for ``sys.executable`` (checked).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from egml.bench.scales import TINY_SIZES

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
KERNEL = "egml-test-python"
SIZES = TINY_SIZES  # n_train, n_val, n_test: shared cached samples (egml.bench.scales)
OVERRIDES = {
    "photon_cnn": "model.conv_filters=[4,4] model.dense_widths=[8] task.baseline.min_signal=20",
    "electron_dnn": "model.depth=2 model.width=16 task.baseline.min_entries=20",
    "merged_photon": "model.widths=[4,8] model.blocks_per_stage=1 task.baseline.n_estimators=10 "
    "task.module.evaluation.min_signal=5",
    "energy_regression": "model.embed_dim=16 model.n_heads=2 model.n_blocks=1 model.ff_dim=16 "
    "model.head_widths=[16] task.module.max_cells=32 task.baseline.n_estimators=20 "
    "task.module.evaluation.min_bin_entries=20",
}


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Jupyter data dir with one kernelspec that runs this interpreter."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"})
    )
    return root


def test_every_task_has_a_tour() -> None:
    assert {p.name for p in NOTEBOOKS} == {f"{task}_tour.ipynb" for task in SIZES}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_tour_knobs_are_the_default_data_config(path: Path) -> None:
    """The tour's sample is the task's default data (what its markdown says, and what lets the
    session cache share it with tests/bench and tests/tasks/test_plots.py)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from egml.cli import CONFIG_DIR

    task = path.stem.removesuffix("_tour")
    sources = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    (assign,) = [
        node
        for node in ast.walk(ast.parse("\n".join(s for s in sources if "KNOBS = " in s)))
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "KNOBS"
    ]
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        synthetic = compose("config", overrides=[f"task={task}"]).data.synthetic
    knobs = {} if synthetic.knobs is None else OmegaConf.to_container(synthetic.knobs, resolve=True)
    assert ast.literal_eval(assign.value) == knobs
    assert "seed=1," in "".join(sources) and synthetic.seed == 1 and synthetic.test_shift is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(
    path: Path, kernel_dir: Path, egml_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = path.stem.removesuffix("_tour")
    n_train, n_val, n_test = SIZES[task]
    env = {
        "JUPYTER_PATH": str(kernel_dir),
        "EGML_TOUR_N_TRAIN": str(n_train),
        "EGML_TOUR_N_VAL": str(n_val),
        "EGML_TOUR_N_TEST": str(n_test),
        "EGML_TOUR_DIR": str(tmp_path / "work"),
        "EGML_TOUR_CACHE": str(egml_cache),
        # the train stage writes no plots (~10 s of CPU each; the eval stage writes those shown)
        "EGML_TOUR_OVERRIDES": f"trainer=debug task.module.evaluation.plot_formats=[] {OVERRIDES[task]}",
        "MPLBACKEND": "Agg",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name=KERNEL, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
    work = tmp_path / "work" / task
    assert (work / "train" / "checkpoints" / "best.ckpt").is_file()
    assert (work / "eval" / "predictions.root").stat().st_size > 0
    images = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 4  # the plots were shown
