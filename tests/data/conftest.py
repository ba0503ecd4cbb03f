"""Fixtures for the data-layer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from egml_data_samples import photon_columns, write_root


@pytest.fixture
def photon_files(tmp_path: Path) -> tuple[list[Path], list[dict]]:
    cols = [photon_columns(300, 1, 0), photon_columns(200, 2, 300)]
    paths = [write_root(tmp_path / f"photons_{i}.root", c) for i, c in enumerate(cols)]
    return paths, cols
