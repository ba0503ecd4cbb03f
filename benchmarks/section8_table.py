"""Print the PHYSICS.md §8 medians (IQR) of T1 shower shapes: prompt unconverted γ and
loose-passing fakes, |η| < 0.6, 40–60 GeV (three generator blocks, seed 777).

    OMP_NUM_THREADS=1 python benchmarks/section8_table.py
"""

from __future__ import annotations

import numpy as np

from egml.sim.base import GenConfig
from egml.sim.photon import SinglePhotonGenerator
from egml.sim.rng import block_rng

SHAPES = (
    "y_Reta",
    "y_Rphi",
    "y_weta2",
    "y_weta1",
    "y_wtots1",
    "y_fracs1",
    "y_deltae",
    "y_Eratio",
    "y_f1",
    "y_Rhad1",
)


def quartiles(x: np.ndarray) -> np.ndarray:
    return np.nanpercentile(x, [25, 50, 75]) if len(x) else np.full(3, np.nan)


def main() -> None:
    gen = SinglePhotonGenerator(GenConfig(knobs={"pt_min": 40.0, "pt_max": 60.0}))
    blocks = [gen.generate_block(block_rng(777, 1, b)) for b in range(3)]
    c = {k: np.concatenate([x[k] for x in blocks]) for k in blocks[0] if isinstance(blocks[0][k], np.ndarray)}
    central = np.abs(c["y_eta_cl_s2"]) < 0.6
    unconverted = c["y_truth_convRadius"] <= 0 if "y_truth_convRadius" in c else True
    sig = (c["y_isTruthMatchedPhoton"] == 1) & central & unconverted & (c["y_convType"] == 0)
    bkg = (c["y_isTruthMatchedPhoton"] == 0) & central & (c["y_IsLoose"] == 1)
    print("n sig", sig.sum(), "n bkg", bkg.sum())
    for k in SHAPES:
        q, qb = quartiles(c[k][sig]), quartiles(c[k][bkg])
        print(f"{k:10s} sig {q[1]:.4g} ({q[0]:.4g}-{q[2]:.4g})  bkg {qb[1]:.4g} ({qb[0]:.4g}-{qb[2]:.4g})")
    print("IsTight eff sig", c["y_IsTight"][sig].mean(), "bkg", c["y_IsTight"][bkg].mean())


if __name__ == "__main__":
    main()
