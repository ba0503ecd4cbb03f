"""load(): bit-identical round trip of fixed and jagged arrays across 2 files, and the branch-map keys."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from egml_data_samples import PHOTON_MAP, photon_columns, write_root

from egml.data import load, load_table
from egml.data.errors import DataError


def test_round_trip_two_files_bit_identical(photon_files):
    paths, cols = photon_files
    out = load([str(p) for p in paths], "SinglePhoton", PHOTON_MAP)
    cat = {k: np.concatenate([c[k] for c in cols]) for k in ("evt_eventNo", "y_pt", "y_img_L2", "label")}
    assert out["img_L2"].dtype == np.float32 and out["img_L2"].shape == (500, 11, 7)
    np.testing.assert_array_equal(out["img_L2"].view(np.uint32), cat["y_img_L2"].view(np.uint32))
    np.testing.assert_array_equal(out["pt"].view(np.uint32), cat["y_pt"].view(np.uint32))
    np.testing.assert_array_equal(out["event"], cat["evt_eventNo"])
    np.testing.assert_array_equal(out["label"], cat["label"])
    # deltae MeV → GeV through the map's scale
    np.testing.assert_allclose(
        out["deltae"], np.concatenate([c["y_deltae"] for c in cols]) * 0.001, rtol=1e-7
    )
    cells = ak.concatenate([c["cells"] for c in cols])
    assert isinstance(out["cell_e"], ak.Array)
    assert ak.to_list(ak.num(out["cell_e"])) == ak.to_list(ak.num(cells))
    np.testing.assert_array_equal(ak.to_numpy(ak.flatten(out["cell_e"])), ak.to_numpy(ak.flatten(cells.e)))
    np.testing.assert_array_equal(
        ak.to_numpy(ak.flatten(out["cell_layer"])), ak.to_numpy(ak.flatten(cells.layer))
    )


def test_glob_selection_entry_range_and_provenance(photon_files, tmp_path):
    _, cols = photon_files
    pt = np.concatenate([c["y_pt"] for c in cols])
    table = load_table(
        str(tmp_path / "photons_*.root"), "SinglePhoton", {"pt": "y_pt"}, selection="y_pt > 50"
    )
    np.testing.assert_array_equal(table.columns["pt"], pt[pt > 50])
    glob_entry = np.where(table.file_id == 0, 0, 300) + table.entry
    np.testing.assert_array_equal(pt[glob_entry], table.columns["pt"])
    part = load(str(tmp_path / "photons_*.root"), "SinglePhoton", {"pt": "y_pt"}, entry_range=(250, 350))
    np.testing.assert_array_equal(part["pt"], pt[250:350])


def test_reshape_transpose_default_dtype(tmp_path):
    n = 40
    rng = np.random.default_rng(3)
    flat = rng.normal(size=(n, 6)).astype(np.float32)
    shape = rng.normal(size=n).astype(np.float32)
    shape[::7] = np.nan  # undefined shower shape (PHYSICS.md §7)
    path = write_root(tmp_path / "f.root", {"flat": flat, "shape": shape, "i": np.arange(n, dtype=np.int32)})
    bmap = {
        "img": {"branch": "flat", "reshape": [2, 3], "transpose": [1, 0], "shape": [3, 2]},
        "s": {"branch": "shape", "default": -999.0},
        "i": {"branch": "i", "dtype": "float32"},
    }
    out = load(str(path), "SinglePhoton", bmap)
    np.testing.assert_array_equal(out["img"], flat.reshape(n, 2, 3).transpose(0, 2, 1))
    np.testing.assert_array_equal(out["s"], np.where(np.isnan(shape), np.float32(-999), shape))
    assert out["i"].dtype == np.float32
    with pytest.raises(DataError, match="NaN or inf in fields s"):
        load(str(path), "SinglePhoton", {"s": "shape"})
    dropped = load_table(str(path), "SinglePhoton", {"s": "shape"}, nonfinite="drop")
    assert dropped.n_dropped == 6 and np.isfinite(dropped.columns["s"]).all()
    np.testing.assert_array_equal(dropped.entry, np.flatnonzero(~np.isnan(shape)))


def test_jagged_constant_length_becomes_image(tmp_path):
    """A CMS-style flat vector (constant length) becomes a fixed image through reshape."""
    rng = np.random.default_rng(4)
    img = rng.normal(size=(10, 4, 4)).astype(np.float32)
    vec = ak.unflatten(img.reshape(-1), np.full(10, 16))
    path = write_root(tmp_path / "v.root", {"SC": ak.zip({"energy": vec})}, tree="RHTree")
    out = load(str(path), "RHTree", {"SC_energy": {"branch": "SC_energy", "reshape": [4, 4]}})
    np.testing.assert_array_equal(out["SC_energy"], img)


def test_photon_columns_helper_is_deterministic():
    a, b = photon_columns(5, 9), photon_columns(5, 9)
    np.testing.assert_array_equal(a["y_img_L2"], b["y_img_L2"])
