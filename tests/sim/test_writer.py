"""ROOT writer (PHYSICS.md §7 writing rules): shapes, counters, names, metadata, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from egml.sim.writer import RootWriter, parse_compression, write_root


def _columns(n: int = 50, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, n)
    flat = rng.normal(size=counts.sum()).astype(np.float32)
    return {
        "evt_eventNo": np.arange(n, dtype=np.int64),
        "y_pt": rng.exponential(20, n).astype(np.float32),
        "y_img_L2": rng.normal(size=(n, 11, 7)).astype(np.float32),
        "cells": ak.zip(
            {"e": ak.unflatten(flat, counts), "layer": ak.unflatten((flat > 0).astype(np.int32), counts)}
        ),
    }


def test_fixed_shape_and_record_jagged_round_trip(tmp_path: Path) -> None:
    cols = _columns()
    meta = {"seed": 1, "k": np.float32(0.5), "axes": np.array([1, 2])}
    path = write_root(tmp_path / "a.root", "fevt/RHTree", cols, metadata={"gen_config": meta})
    with uproot.open(path) as f:
        assert json.loads(str(f["gen_config"])) == {"seed": 1, "k": 0.5, "axes": [1, 2]}
        tree = f["fevt/RHTree"]
        assert tree.num_entries == 50
        assert tree["y_img_L2"].typename == "float[11][7]"
        assert tree["ncells"].typename == "int32_t"
        assert tree["cells_e"].typename == "float[]" and tree["cells_layer"].typename == "int32_t[]"
        assert set(tree.keys()) == {"evt_eventNo", "y_pt", "y_img_L2", "ncells", "cells_e", "cells_layer"}
        got = tree.arrays(library="np")
        out = tree.arrays()
    assert got["y_img_L2"].dtype == np.float32 and got["y_img_L2"].shape == (50, 11, 7)
    assert np.array_equal(got["y_img_L2"], cols["y_img_L2"])
    assert np.array_equal(got["y_pt"], cols["y_pt"])
    assert np.array_equal(got["ncells"], ak.to_numpy(ak.num(cols["cells"])))
    assert ak.array_equal(out["cells_e"], cols["cells"]["e"])
    assert ak.array_equal(out["cells_layer"], cols["cells"]["layer"])


def test_separate_jagged_columns_with_explicit_counter(tmp_path: Path) -> None:
    """T4 style: cell_E, cell_eta with counter ncells (§7) from an integer column."""
    cols = _columns()
    t4 = {
        "cl_E": cols["y_pt"],
        "ncells": ak.to_numpy(ak.num(cols["cells"])).astype(np.int32),
        "cell_E": cols["cells"]["e"],
        "cell_E_over_layer": cols["cells"]["e"] * 2,
    }
    path = write_root(tmp_path / "t4.root", "CaloCalib", t4)
    with uproot.open(path) as f:
        tree = f["CaloCalib"]
        assert set(tree.keys()) == {"cl_E", "ncells", "cell_E", "cell_E_over_layer"}
        assert ak.array_equal(tree["cell_E_over_layer"].array(), t4["cell_E_over_layer"])
        assert np.array_equal(tree["ncells"].array(library="np"), t4["ncells"])


def test_counter_from_generator_mapping(tmp_path: Path) -> None:
    cols = {"x": np.zeros(50, np.float32), "cell_E": _columns()["cells"]["e"]}
    with RootWriter(tmp_path / "m.root", "T", counters={"cell": "ncells"}) as w:
        w.extend(cols)
    with uproot.open(w.path) as f:
        assert set(f["T"].keys()) == {"x", "ncells", "cell_E"}


def test_bad_columns_raise_clear_errors(tmp_path: Path) -> None:
    cols = _columns()
    other = _columns(seed=1)["cells"]["e"]
    with pytest.raises(ValueError, match="different lengths per entry"):
        write_root(tmp_path / "x.root", "T", {"c_a": cols["cells"]["e"], "c_b": other})
    with pytest.raises(ValueError, match="differs from the lengths"):
        write_root(tmp_path / "x.root", "T", {"ncells": np.zeros(50, np.int32), "cells": cols["cells"]})
    with pytest.raises(ValueError, match="written twice"):
        write_root(tmp_path / "x.root", "T", {"cells_e": np.zeros(50, np.float32), "cells": cols["cells"]})
    with pytest.raises(ValueError, match="differ in length"):
        write_root(tmp_path / "x.root", "T", {"a": np.zeros(3), "b": np.zeros(4)})
    with pytest.raises(ValueError, match="bad compression"):
        parse_compression("gzip")
    assert not list(tmp_path.iterdir())  # nothing left behind by the failed writes


def test_chunks_must_keep_their_branches(tmp_path: Path) -> None:
    cols = _columns()
    with pytest.raises(ValueError, match="differ from the first chunk"):
        with RootWriter(tmp_path / "c.root", "T") as w:
            w.extend(cols)
            w.extend({k: v for k, v in cols.items() if k != "y_pt"})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_atomic_write_keeps_old_file_and_leaves_no_partial(tmp_path: Path, exc: type) -> None:
    target = tmp_path / "out.root"
    write_root(target, "T", {"x": np.arange(5, dtype=np.float32)})
    with pytest.raises(exc):
        with RootWriter(target, "T") as w:
            w.extend({"x": np.arange(100, dtype=np.float32)})
            raise exc()
    assert [p.name for p in tmp_path.iterdir()] == ["out.root"]
    with uproot.open(target) as f:
        assert f["T"].num_entries == 5


@pytest.mark.parametrize("spec", ["lz4", "zlib:1", "ZSTD(3)", "none"])
def test_compressions_read_back_identically(tmp_path: Path, spec: str) -> None:
    cols = _columns()
    path = write_root(tmp_path / "c.root", "T", cols, compression=spec)
    with uproot.open(path) as f:
        assert np.array_equal(f["T"]["y_img_L2"].array(library="np"), cols["y_img_L2"])
    comp = parse_compression(spec)
    assert (comp is None) == (spec == "none")
    if comp is not None:
        assert type(comp).__name__.lower() == spec.split(":")[0].split("(")[0].lower()


# §7 round trip of every real generator. Tree names and units are those of PHYSICS.md §7.
SECTION7 = {
    "photon_cnn": (
        "SinglePhoton",
        {"y_pt": "GeV", "y_phi": "rad", "y_convRadius": "mm", "y_e277": "MeV", "y_deltae": "MeV",
         "y_img_L2": "GeV", "cells_e": "GeV", "cells_x": "mm"},
    ),
    "electron_dnn": ("tree", {"p_et_calo": "GeV", "p_d0": "mm"}),
    "merged_photon": ("fevt/RHTree", {"pho_pT": "GeV", "pho_E": "GeV"}),
    "energy_regression": ("CaloCalib", {"cl_E": "GeV", "cell_E": "GeV", "cell_z": "mm", "truth_E": "GeV"}),
}  # fmt: skip


TEST_BLOCK = 1024


def _flat_values(array: ak.Array | np.ndarray) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array, axis=None)) if isinstance(array, ak.Array) else array


@pytest.mark.parametrize("task", sorted(SECTION7))
def test_real_generator_section7_round_trip(
    task: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from egml.sim import driver, registry
    from egml.sim.driver import concatenate, generate
    from egml.sim.writer import to_branches

    n, tree_name, units = 1000, *SECTION7[task]
    cls = registry.generator_class(task)
    blocks: list[dict] = []  # what the generator returned, recorded on the way to the file (one generation)
    original = cls.generate_block

    def recording(self: object, rng: np.random.Generator, size: int = TEST_BLOCK) -> dict:
        blocks.append(original(self, rng, size))
        return blocks[-1]

    monkeypatch.setattr(cls, "generate_block", recording)
    # Test-only smaller RNG blocks (4x cheaper): the round trip checks the writing, not the streams.
    monkeypatch.setattr(driver, "BLOCK_SIZE", TEST_BLOCK)
    path = generate(task, n, tmp_path / f"{task}.root", seed=7, chunk_blocks=1)
    generated = {k: v[:n] for k, v in concatenate(blocks).items()}
    expected, counters = to_branches(generated, getattr(cls, "jagged_counters", None))
    with uproot.open(path) as f:
        meta = json.loads(str(f["gen_config"]))
        tree = f[tree_name]
        assert tree.num_entries == n
        read = tree.arrays(library="np")
        read_ak = tree.arrays()
    assert meta["tree"] == tree_name and meta["task"] == task
    assert meta["seeds"] == {
        "master": 7,
        "detector_seed": 2026,
        "task_id": cls.task_id,
        "block_size": TEST_BLOCK,
    }
    no_unit = sorted(set(read) - set(meta["units"]))
    assert not no_unit, f"branches without a unit in gen_config: {no_unit}"
    assert {b: meta["units"].get(b) for b in units} == units
    for name, value in expected.items():
        if isinstance(value, np.ndarray):
            assert value.dtype != np.float64, f"{name} is float64; §7 asks for float32"
            assert read[name].dtype == value.dtype and read[name].shape == value.shape, name
            assert np.array_equal(read[name], value, equal_nan=value.dtype.kind == "f"), name
            continue
        assert np.array_equal(read[counters[name]], ak.to_numpy(ak.num(value, axis=1))), counters[name]
        for field in ak.fields(value) or [""]:
            branch, data = (f"{name}_{field}", value[field]) if field else (name, value)
            want, got = _flat_values(data), _flat_values(read_ak[branch])
            assert got.dtype == want.dtype and want.dtype != np.float64, branch
            assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), branch
