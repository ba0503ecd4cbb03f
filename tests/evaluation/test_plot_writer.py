"""PlotWriter: experiment styles, PNG (+ PDF on request), and the data behind each curve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from egml.evaluation.plots import PlotWriter


@pytest.mark.parametrize("experiment", ["ATLAS", "CMS"])
def test_png_and_pdf_with_curve_data(experiment: str, tmp_path: Path) -> None:
    plots = PlotWriter(tmp_path, experiment, formats=("png", "pdf"))
    eff_s = np.linspace(0.0, 1.0, 1001)
    path = plots.roc({"net": (eff_s, eff_s**3), "baseline": (eff_s, eff_s**2)}, points={"menu": (0.8, 0.1)})
    assert path == tmp_path / "roc.png"
    assert path.stat().st_size > 1000 and (tmp_path / "roc.pdf").read_bytes().startswith(b"%PDF")
    doc = json.loads((tmp_path / "data" / "roc.json").read_text())
    assert doc["curves"] == ["net", "baseline"]
    columns = doc["columns"]
    assert len(columns["curve"]) == len(columns["signal_efficiency"]) <= 2 * 200  # thinned curve
    assert set(columns["curve"]) == {0.0, 1.0}
    edges = np.array([0.0, 1.0, 2.0])
    plots.efficiency_vs("pt", edges, {"net": (np.array([0.5, np.nan]), np.array([0.1, np.nan]))})
    eff = json.loads((tmp_path / "data" / "efficiency_vs_pt.json").read_text())["columns"]
    assert eff["net efficiency"] == [0.5, None] and eff["bin_low"] == [0.0, 1.0]


def test_unknown_style_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plot style 'LHCb'"):
        PlotWriter(tmp_path, "LHCb")
