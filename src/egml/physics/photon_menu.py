"""Reference cut-based photon identification: the ATLAS Run-1 "2012" loose/tight menu.

Values from athena ``PhotonIsEMSelectorCutDefs.py`` [S:1] as tabulated in PHYSICS.md §2.4;
semantics from ``TPhotonIsEMSelector.cxx`` [S:2]. This is the fixed reference menu written
to the ntuple (y_IsLoose, y_IsTight); the re-optimised baseline lives in ``egml.baselines``.
All binning uses the reconstructed |η_cl,s2| and E_T,cl (§0 rule 2).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from egml.physics.shower_shapes import menu_rhad

F32 = np.float32

TIGHT_ETA_EDGES = np.array([0.0, 0.6, 0.8, 1.15, 1.37, 1.52, 1.81, 2.01, 2.37])  # crack bin is no bin
LOOSE_ETA_EDGES = np.array([0.0, 0.6, 0.8, 1.15, 1.37, 1.52, 1.81, 2.01, 2.37, 2.47])
HIGH_ET_GEV = 80.0  # only Rhad differs above this E_T
E277_MIN_GEV = 1e-4  # middle-layer cuts need E277 ≥ 0.1 MeV, else fail [S:2]
F1_MIN = 0.005

# Tight, 7 bins (0–0.6 | 0.6–0.8 | 0.8–1.15 | 1.15–1.37 | 1.52–1.81 | 1.81–2.01 | 2.01–2.37)
TIGHT_UNCONVERTED: dict[str, tuple[float, ...]] = {
    "Rhad": (0.020, 0.020, 0.01975, 0.01825, 0.02425, 0.02575, 0.02325),
    "Reta": (0.92, 0.92, 0.93, 0.925, 0.925, 0.925, 0.910),
    "Rphi": (0.93, 0.93, 0.93, 0.92, 0.93, 0.93, 0.93),
    "weta2": (0.011, 0.0115, 0.0115, 0.0115, 0.012, 0.012, 0.0128),
    "deltae": (0.180, 0.170, 0.165, 0.160, 0.425, 0.500, 0.560),  # GeV (180 MeV …)
    "Eratio": (0.80, 0.80, 0.76, 0.82, 0.78, 0.80, 0.80),
    "wtots1": (3.0, 3.0, 3.3, 3.5, 3.3, 2.3, 2.0),
    "fracs1": (0.28, 0.33, 0.38, 0.425, 0.42, 0.255, 0.24),
    "weta1": (0.67, 0.69, 0.69, 0.715, 0.72, 0.66, 0.645),
}
TIGHT_CONVERTED: dict[str, tuple[float, ...]] = {
    "Rhad": (0.020, 0.018, 0.01975, 0.018, 0.02425, 0.024, 0.024),
    "Reta": (0.92, 0.9125, 0.915, 0.91, 0.908, 0.917, 0.903),
    "Rphi": (0.57, 0.60, 0.60, 0.64, 0.68, 0.72, 0.72),
    "weta2": (0.011, 0.0117, 0.012, 0.012, 0.013, 0.012, 0.0127),
    "deltae": (0.160, 0.160, 0.120, 0.125, 0.350, 0.520, 0.525),
    "Eratio": (0.85, 0.85, 0.80, 0.78, 0.82, 0.86, 0.88),
    "wtots1": (2.8, 2.9, 3.1, 3.3, 3.5, 2.2, 1.8),
    "fracs1": (0.33, 0.38, 0.46, 0.52, 0.52, 0.31, 0.25),
    "weta1": (0.73, 0.715, 0.74, 0.75, 0.75, 0.69, 0.66),
}
TIGHT_RHAD_HIGH_ET = (0.01825, 0.01975, 0.01525, 0.01675, 0.02125, 0.02275, 0.01975)
# Loose, 9 bins including the crack and 2.37–2.47
LOOSE: dict[str, tuple[float, ...]] = {
    "Rhad": (0.02425, 0.02275, 0.02575, 0.01975, 0.01975, 0.02725, 0.02725, 0.02725, 0.01975),
    "Reta": (0.8825, 0.8825, 0.8575, 0.8875, 0.750, 0.8725, 0.9025, 0.8875, 0.7575),
    "weta2": (0.013, 0.014, 0.015, 0.015, 0.025, 0.016, 0.015, 0.015, 0.014),
}

# Cut direction: "min" fails below (x < cut), "max" fails above (x > cut), "gt" fails at x ≤ cut.
CUT_SENSE = {
    "Rhad": "max",
    "Reta": "min",
    "Rphi": "min",
    "weta2": "max",
    "deltae": "max",
    "Eratio": "gt",
    "wtots1": "max",
    "fracs1": "max",
    "weta1": "max",
}
REQUIRED = (
    "Rhad1",
    "Rhad",
    "Reta",
    "Rphi",
    "weta2",
    "f1",
    "deltae",
    "Eratio",
    "wtots1",
    "fracs1",
    "weta1",
    "e277",
)


def _eta_bin(abs_eta: np.ndarray, edges: np.ndarray, skip_crack: bool) -> np.ndarray:
    """Bin index, −1 outside the menu (and in the crack for the tight menu)."""
    b = np.searchsorted(edges, abs_eta, side="right") - 1
    out = (b < 0) | (b >= len(edges) - 1) | ~np.isfinite(abs_eta)
    if skip_crack:  # tight edges contain the crack 1.37–1.52 as bin 4: remove it
        out |= b == 4
        b = np.where(b > 4, b - 1, b)
    return np.where(out, -1, b)


def _passes(x: np.ndarray, cut: np.ndarray, sense: str) -> np.ndarray:
    """NaN never passes (undefined variables fail, §2.3)."""
    if sense == "min":
        return x >= cut
    if sense == "max":
        return x <= cut
    return x > cut


def photon_is_em(
    shapes: Mapping[str, np.ndarray], et: np.ndarray, eta2: np.ndarray, converted: np.ndarray, menu: str
) -> np.ndarray:
    """Boolean pass of the reference ``menu`` ("loose" or "tight") for each candidate.

    ``shapes`` holds the §2.3 variables (Rhad1, Rhad, Reta, Rphi, weta2 corrected, f1,
    deltae and e277 in GeV, Eratio, wtots1, fracs1, weta1 corrected); ``et`` = E_T,cl (GeV),
    ``eta2`` = η_cl,s2, ``converted`` = reconstructed conversion status (convType > 0).
    """
    if menu not in ("loose", "tight"):
        raise ValueError(f"menu must be 'loose' or 'tight', got {menu!r}")
    missing = [v for v in REQUIRED if v not in shapes]
    if missing:
        raise ValueError(f"photon_is_em needs shower shapes {missing}")
    aeta = np.abs(np.asarray(eta2, F32))
    rhad = menu_rhad(shapes["Rhad1"], shapes["Rhad"], aeta)
    middle_ok = shapes["e277"] >= E277_MIN_GEV
    if menu == "loose":
        b = _eta_bin(aeta, LOOSE_ETA_EDGES, skip_crack=False)
        bi = np.maximum(b, 0)
        ok = b >= 0
        for var, x in (("Rhad", rhad), ("Reta", shapes["Reta"]), ("weta2", shapes["weta2"])):
            ok &= _passes(x, np.asarray(LOOSE[var], F32)[bi], CUT_SENSE[var])
        return ok & middle_ok

    b = _eta_bin(aeta, TIGHT_ETA_EDGES, skip_crack=True)
    bi = np.maximum(b, 0)
    conv = np.asarray(converted, bool)
    ok = b >= 0
    for var, sense in CUT_SENSE.items():
        cut = np.where(
            conv, np.asarray(TIGHT_CONVERTED[var], F32)[bi], np.asarray(TIGHT_UNCONVERTED[var], F32)[bi]
        )
        if var == "Rhad":
            cut = np.where(et >= HIGH_ET_GEV, np.asarray(TIGHT_RHAD_HIGH_ET, F32)[bi], cut)
        x = rhad if var == "Rhad" else shapes[var]
        ok &= _passes(x, cut, sense)
    return ok & (shapes["f1"] >= F1_MIN) & middle_ok
