"""Bad input data through the real CLI: one ``egml: error:`` line, exit 2, no traceback.

Each bad file is made from a tiny generated electron sample with uproot (mktree + extend).
The stage fails while reading, before any training, so most cases run ``egml.cli.main`` in
this process; a few run ``python -m egml`` to prove the exit code of the real entry point.
"""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from .conftest import error_line, run_cli, tiny, write_tree


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory, electron_file: Path, electron_columns: dict) -> Path:
    """A folder of bad variants of the electron sample."""
    d = tmp_path_factory.mktemp("bad")
    cols = electron_columns
    (d / "notes.root").write_text("this is a text file, not ROOT\n" * 50)
    data = electron_file.read_bytes()
    (d / "cut.root").write_bytes(data[: len(data) // 2])
    write_tree(d / "no_rhad1.root", {k: v for k, v in cols.items() if k != "p_Rhad1"})
    write_tree(d / "shape.root", {**cols, "p_Rhad": np.stack([cols["p_Rhad"]] * 3, axis=1)})
    counts = np.arange(len(cols["p_Rhad"])) % 3  # 0, 1 or 2 values per entry
    jagged = ak.unflatten(np.repeat(cols["p_Rhad"], counts), counts)
    write_tree(d / "jagged.root", {**cols, "p_Rhad": jagged})
    rhad1 = cols["p_Rhad1"].copy()
    rhad1[[3, 8, 11]] = [np.nan, np.inf, -np.inf]
    write_tree(d / "nan.root", {**cols, "p_Rhad1": rhad1})
    label = cols["p_class6"].copy()
    label[[5, 9]] = 7
    write_tree(d / "label7.root", {**cols, "p_class6": label})
    keep = cols["p_class6"] != 1
    write_tree(d / "no_cf.root", {k: v[keep] for k, v in cols.items()})
    write_tree(d / "empty.root", {k: v[:0] for k, v in cols.items()})
    return d


@pytest.fixture
def args(tmp_path: Path) -> list[str]:
    return tiny(tmp_path / "cache", tmp_path / "run")


def test_missing_file_names_the_closest(cli, args, bad: Path) -> None:
    (bad / "electrons.root").touch()
    code, line = cli([*args, f"data.files=[{bad}/electron.root]"])
    assert code == 2
    assert f"input file '{bad}/electron.root' does not exist; closest: electrons.root" in line


def test_glob_with_no_match(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=['{bad}/*.nope']"])
    assert code == 2 and f"glob '{bad}/*.nope' matches no file; expected at least one ROOT file" in line


def test_not_a_root_file_via_subprocess(args, bad: Path, tmp_path: Path) -> None:
    proc = run_cli([*args, f"data.files=[{bad}/notes.root]"], cwd=tmp_path)
    assert proc.returncode == 2
    line = error_line(proc.stderr)
    assert f"{bad}/notes.root: not a readable ROOT file" in line and "check the file was fully copied" in line


def test_truncated_root_file(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=[{bad}/cut.root]"])
    assert code == 2 and "cut.root" in line
    assert "truncated or corrupt" in line or "not a readable ROOT file" in line


def test_missing_tree_lists_the_trees(cli, args, electron_file: Path) -> None:
    code, line = cli([*args, f"data.files=[{electron_file}]", "data.tree=Electrons"])
    assert code == 2 and "no tree 'Electrons'; trees present: tree" in line


def test_missing_branch_names_the_closest(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=[{bad}/no_rhad1.root]"])
    assert code == 2 and "tree 'tree' has no branch 'p_Rhad1'; closest: p_Rhad" in line


def test_fixed_shape_branch_of_the_wrong_shape(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=[{bad}/shape.root]"])
    assert code == 2 and "shape.root:tree: field 'Rhad' has shape [3] per entry; expected []" in line


def test_jagged_branch_where_fixed_is_expected(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=[{bad}/jagged.root]"])
    assert code == 2
    assert "jagged.root:tree: field 'Rhad' is jagged (0 values in entry 0); expected fixed shape []" in line


def test_nonfinite_fail_gives_count_and_first_entries(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=[{bad}/nan.root]", "data.nonfinite=fail"])
    assert code == 2
    assert (
        "3 of 1200 entries hold NaN or inf in fields Rhad1 (3); first at nan.root:3, nan.root:8, nan.root:11"
        in line
    )
    assert "nonfinite='drop'" in line


def test_nonfinite_drop_removes_and_reports(bad: Path, caplog: pytest.LogCaptureFixture) -> None:
    from egml.data import load_table

    with caplog.at_level(logging.WARNING):
        table = load_table(
            str(bad / "nan.root"), "tree", {"Rhad1": "p_Rhad1", "et": "p_et_calo"}, nonfinite="drop"
        )
    assert table.n_dropped == 3 and len(table) == 1197
    assert not np.isin(table.entry, [3, 8, 11]).any() and np.isfinite(table.columns["Rhad1"]).all()
    assert "dropped 3 of 1200 entries with NaN or inf in Rhad1 (3) (first at nan.root:3" in caplog.text


def test_labels_outside_the_task_classes(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=[{bad}/label7.root]"])
    assert code == 2
    assert "field 'label' (branch 'p_class6') of tree 'tree': 2 of 1200 entries hold labels [7]" in line
    assert "outside the task's classes [0, 1, 2, 3, 4, 5]; first at label7.root:5, label7.root:9" in line


def test_a_class_with_no_training_entries(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=[{bad}/no_cf.root]"])
    assert code == 2 and "no entries of class 1 (of classes [0, 1, 2, 3, 4, 5])" in line
    assert "every class needs training entries" in line


def test_a_class_missing_from_the_training_split_only(cli, args, electron_file: Path) -> None:
    """The files hold every class, but a tiny training fraction leaves some to val/test only."""
    code, line = cli([*args, f"data.files=[{electron_file}]", "data.split=[0.003,0.5,0.497]"])
    assert code == 2 and "the training split has no entries of class" in line


def test_selection_keeping_nothing(cli, args, electron_file: Path) -> None:
    code, line = cli([*args, f"data.files=[{electron_file}]", "data.selection='p_et_calo > 1e9'"])
    assert code == 2
    assert "selection 'p_et_calo > 1e9' keeps no entries of 1200 read from tree 'tree'" in line


def test_file_with_the_tree_but_no_entries(cli, args, bad: Path) -> None:
    code, line = cli([*args, f"data.files=[{bad}/empty.root]"])
    assert (
        code == 2 and f"tree 'tree' has no entries in {bad}/empty.root; expected at least one entry" in line
    )


def test_debug_raises_the_original_error(args, bad: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from egml.cli import main
    from egml.data import DataError

    monkeypatch.setenv("EGML_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["egml", *args, f"data.files=[{bad}/empty.root]"])
    with pytest.raises(DataError, match="tree 'tree' has no entries"):
        main()
