"""Files written by ROOT itself (shared/data/real-root): compressions, offsets, object flattening."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
from egml_data_samples import REAL_ROOT

from egml.data import DataError, load, load_table

HZZ = ["uproot-HZZ.root", "uproot-HZZ-zstd.root", "uproot-HZZ-lz4.root", "uproot-HZZ-lzma.root"]
pytestmark = pytest.mark.skipif(not REAL_ROOT.is_dir(), reason="real-root files not present")


@pytest.mark.parametrize("name", HZZ)
def test_hzz_electrons_flattened_match_uproot(name):
    path = str(REAL_ROOT / name)
    bmap = {
        "px": "Electron_Px",
        "pt": {"expr": "hypot(Electron_Px, Electron_Py)"},
        "charge": "Electron_Charge",
        "met_px": "MET_px",
        "weight": "EventWeight",
    }
    table = load_table(path, "events", bmap, objects="Electron")
    ref = uproot.open(path)["events"].arrays(
        ["Electron_Px", "Electron_Py", "Electron_Charge", "MET_px", "NElectron"]
    )
    counts = ak.to_numpy(ref["NElectron"])
    np.testing.assert_array_equal(table.columns["px"], ak.to_numpy(ak.flatten(ref["Electron_Px"])))
    np.testing.assert_array_equal(table.columns["charge"], ak.to_numpy(ak.flatten(ref["Electron_Charge"])))
    np.testing.assert_array_equal(table.columns["met_px"], np.repeat(ak.to_numpy(ref["MET_px"]), counts))
    pt = np.hypot(ak.to_numpy(ak.flatten(ref["Electron_Px"])), ak.to_numpy(ak.flatten(ref["Electron_Py"])))
    np.testing.assert_allclose(table.columns["pt"], pt, rtol=1e-6)
    np.testing.assert_array_equal(table.entry, np.repeat(np.arange(len(counts)), counts))


def test_hzz_per_object_and_per_event_selection():
    path = str(REAL_ROOT / "uproot-HZZ.root")
    ref = uproot.open(path)["events"].arrays(["Electron_E", "MET_px"])
    out = load(
        path, "events", {"e": "Electron_E"}, selection="(Electron_E > 30) & (MET_px > 0)", objects="Electron"
    )
    keep = (ref["Electron_E"] > 30) & (ref["MET_px"] > 0)
    np.testing.assert_array_equal(out["e"], ak.to_numpy(ak.flatten(ref["Electron_E"][keep])))


def test_nanoaod_electrons_with_event_number():
    path = str(REAL_ROOT / "nanoAOD_2015_CMS_Open_Data_ttbar.root")
    bmap = {
        "pt": "Electron_pt",
        "eta": "Electron_eta",
        "event": "event",
        "met": "MET_pt",
        "ncand": "nElectron",
    }
    out = load(path, "Events", bmap, objects="Electron")
    ref = uproot.open(path)["Events"].arrays(["Electron_pt", "event", "nElectron"])
    counts = ak.to_numpy(ref["nElectron"]).astype(np.int64)
    assert len(out["pt"]) == counts.sum() > 0
    np.testing.assert_array_equal(out["pt"], ak.to_numpy(ak.flatten(ref["Electron_pt"])))
    np.testing.assert_array_equal(out["event"], np.repeat(ak.to_numpy(ref["event"]), counts))
    assert (out["ncand"] >= 1).all()


def test_jagged_without_objects_stays_awkward():
    path = str(REAL_ROOT / "uproot-small-dy-withoffsets.root")
    out = load(path, "tree", {"jet_pt": "Jet_pt", "event": "event", "njet": "nJet"})
    ref = uproot.open(path)["tree"].arrays(["Jet_pt", "event"])
    assert isinstance(out["jet_pt"], ak.Array)
    assert ak.all(out["jet_pt"] == ref["Jet_pt"])
    np.testing.assert_array_equal(ak.to_numpy(ak.num(out["jet_pt"])), out["njet"])
    assert out["event"].dtype == np.uint64


def test_file_uproot_cannot_decode_gives_one_line_error():
    """uproot 5.7.7 itself fails on the no-offsets jagged baskets of this file; egml must either match
    uproot's arrays (if a future uproot reads it) or say in one line which file/tree failed."""
    path = str(REAL_ROOT / "uproot-small-dy-nooffsets.root")
    try:
        ref = uproot.open(path)["tree"]["Jet_pt"].array()
    except ValueError:
        with pytest.raises(DataError, match=r"nooffsets.root: tree 'tree' could not be read") as info:
            load(path, "tree", {"jet_pt": "Jet_pt"})
        assert "\n" not in str(info.value)
    else:
        assert ak.all(load(path, "tree", {"jet_pt": "Jet_pt"})["jet_pt"] == ref)
    # the event-level branches of the same file read fine
    assert len(load(path, "tree", {"met": "MET_pt"})["met"]) == 501
