"""Every bad input gives one DataError line naming the file/tree/branch/key and what was expected."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from egml_data_samples import PHOTON_MAP, photon_columns, write_root

from egml.data import DataError, load


def one_line(info: pytest.ExceptionInfo) -> str:
    text = str(info.value)
    assert "\n" not in text and isinstance(info.value, ValueError)
    return text


@pytest.fixture
def good(tmp_path):
    return str(write_root(tmp_path / "good.root", photon_columns(50, 5)))


def test_missing_file_and_empty_glob(tmp_path, good):
    with pytest.raises(
        DataError, match=r"input file '.*/goood.root' does not exist; closest: good.root"
    ) as info:
        load(str(tmp_path / "goood.root"), "SinglePhoton", {"pt": "y_pt"})
    one_line(info)
    with pytest.raises(DataError, match=r"glob '.*/\*.nope' matches no file"):
        load(str(tmp_path / "*.nope"), "SinglePhoton", {"pt": "y_pt"})
    with pytest.raises(DataError, match="is a directory"):
        load(str(tmp_path), "SinglePhoton", {"pt": "y_pt"})


def test_non_root_empty_and_truncated_files(tmp_path, good):
    text = tmp_path / "notes.root"
    text.write_text("this is not ROOT\n" * 20)
    with pytest.raises(DataError, match=r"notes.root: not a readable ROOT file") as info:
        load(str(text), "SinglePhoton", {"pt": "y_pt"})
    one_line(info)
    empty = tmp_path / "empty.root"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.root: empty file \(0 bytes\)"):
        load(str(empty), "SinglePhoton", {"pt": "y_pt"})
    data = open(good, "rb").read()
    cut = tmp_path / "cut.root"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DataError, match=r"cut.root: .*(not a readable ROOT file|truncated or corrupt)"
    ) as info:
        load(str(cut), "SinglePhoton", {"img": "y_img_L2"})
    one_line(info)


def test_tree_with_no_entries(tmp_path):
    path = write_root(tmp_path / "none.root", {"y_pt": np.zeros(0, np.float32)})
    with pytest.raises(DataError, match="tree 'SinglePhoton' has no entries"):
        load(str(path), "SinglePhoton", {"pt": "y_pt"})


def test_missing_tree_lists_trees_and_rntuple_is_named(tmp_path, good):
    with pytest.raises(DataError, match=r"no tree 'Photons'; trees present: SinglePhoton") as info:
        load(good, "Photons", {"pt": "y_pt"})
    one_line(info)
    import uproot

    with uproot.recreate(tmp_path / "rn.root") as f:
        f["SinglePhoton"] = {"y_pt": np.ones(3, np.float32)}  # uproot >= 5.7: an RNTuple
    with pytest.raises(DataError, match="is an RNTuple, not a TTree"):
        load(str(tmp_path / "rn.root"), "SinglePhoton", {"pt": "y_pt"})


def test_missing_branch_names_closest(good):
    with pytest.raises(
        DataError, match=r"good.root: tree 'SinglePhoton' has no branch 'y_ptt'; closest: y_pt"
    ) as info:
        load(good, "SinglePhoton", {"pt": "y_ptt"})
    one_line(info)
    with pytest.raises(DataError, match=r"unknown name 'y_et'|no branch 'y_et'"):
        load(good, "SinglePhoton", {"pt": "y_pt"}, selection="y_et > 3")


def test_wrong_shape_and_jagged_where_fixed(good):
    with pytest.raises(
        DataError, match=r"field 'img_L2' has shape \[11, 7\] per entry; expected \[11, 4\]"
    ) as info:
        load(good, "SinglePhoton", {"img_L2": {"branch": "y_img_L2", "shape": [11, 4]}})
    one_line(info)
    with pytest.raises(DataError, match=r"field 'cells' is jagged .*expected fixed shape \[4\]"):
        load(good, "SinglePhoton", {"cells": {"branch": "cells_e", "shape": [4]}})
    with pytest.raises(DataError, match=r"reshape \[5, 5\] needs 25"):
        load(good, "SinglePhoton", {"img": {"branch": "y_img_L2", "reshape": [5, 5]}})


def test_selection_keeping_nothing_and_non_boolean(good):
    with pytest.raises(DataError, match=r"selection 'y_pt > 1e6' keeps no entries of 50 read") as info:
        load(good, "SinglePhoton", {"pt": "y_pt"}, selection="y_pt > 1e6")
    one_line(info)
    with pytest.raises(DataError, match="expected one boolean"):
        load(good, "SinglePhoton", {"pt": "y_pt"}, selection="y_pt * 2")
    with pytest.raises(DataError, match=r"selection .* is per object"):
        load(good, "SinglePhoton", {"pt": "y_pt"}, selection="cells_e > 0")


def test_branch_map_mistakes(good):
    with pytest.raises(DataError, match=r"field 'pt' has unknown key 'scael'; closest: scale"):
        load(good, "SinglePhoton", {"pt": {"branch": "y_pt", "scael": 2}})
    with pytest.raises(DataError, match="exactly one of 'branch' or 'expr'"):
        load(good, "SinglePhoton", {"pt": {"branch": "y_pt", "expr": "y_pt"}})
    with pytest.raises(DataError, match="disallowed syntax 'Attribute'"):
        load(good, "SinglePhoton", {"pt": {"expr": "y_pt.__class__"}})
    with pytest.raises(DataError, match=r"field 'ptt' is not in the branch map; closest: pt"):
        load(good, "SinglePhoton", PHOTON_MAP, fields=["ptt"])


def test_nonfinite_policy_fail_reports_count_and_first_entries(tmp_path):
    pt = np.arange(10, dtype=np.float32)
    pt[[3, 7]] = [np.inf, np.nan]
    path = write_root(tmp_path / "nan.root", {"y_pt": pt, "c": ak.Array([[1.0]] * 9 + [[np.nan]])})
    with pytest.raises(
        DataError, match=r"3 of 10 entries hold NaN or inf .*first at nan.root:3, nan.root:7, nan.root:9"
    ):
        load(str(path), "SinglePhoton", {"pt": "y_pt", "c": "c"})
    with pytest.raises(DataError, match="nonfinite policy 'skip' is unknown"):
        load(str(path), "SinglePhoton", {"pt": "y_pt"}, nonfinite="skip")  # type: ignore[arg-type]
