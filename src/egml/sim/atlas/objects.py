"""Padded particle containers handed to the ATLAS calorimeter simulation (PHYSICS.md §0 rule 5).

Arrays are (N, K): N candidates, K padded object slots; ``mask`` marks real objects. Random
draws are made on the padded shape; cell integrals run only on the real objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F32 = np.float32


def _check_shapes(name: str, arrays: dict[str, np.ndarray], shape: tuple[int, ...]) -> None:
    for key, arr in arrays.items():
        if arr is not None and np.shape(arr) != shape:
            raise ValueError(f"{name}.{key}: expected shape {shape} like E, got {np.shape(arr)}")


@dataclass
class EMObjects:
    """Electromagnetic showering objects (photons, conversion legs, e±, brem and meson-decay γ).

    E (GeV), eta, phi: direction from the vertex (the impact per layer is computed with z_v);
    t0: shower start depth in X0 measured from the first material (§1.3/§1.4): photons X_c,
    conversion legs X_c, electrons X_ID. mask: real slots. All (N, K); floats float32.
    bend (optional, rad·m): for charged legs bent in the solenoid, ``phi`` is the landing φ at
    the L2 radius and the landing φ at layer radius R_L is phi + bend·(1/R_L2 − 1/R_L) (§1.3
    Δφ(R_c, R_L) per layer, ``conversions.layer_phi``); None or 0 for straight objects.
    """

    E: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    t0: np.ndarray
    mask: np.ndarray
    bend: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.E = np.asarray(self.E, dtype=F32)
        if self.E.ndim != 2:
            raise ValueError(f"EMObjects.E: expected a padded (N, K) array, got shape {self.E.shape}")
        _check_shapes(
            "EMObjects",
            {"eta": self.eta, "phi": self.phi, "t0": self.t0, "mask": self.mask, "bend": self.bend},
            self.E.shape,
        )
        self.eta = np.asarray(self.eta, dtype=F32)
        self.phi = np.asarray(self.phi, dtype=F32)
        self.t0 = np.asarray(self.t0, dtype=F32)
        self.mask = np.asarray(self.mask, dtype=bool) & (self.E > 0)
        if self.bend is not None:
            self.bend = np.asarray(self.bend, dtype=F32)

    @classmethod
    def empty(cls, n: int, k: int = 0) -> EMObjects:
        z = np.zeros((n, k), F32)
        return cls(z, z.copy(), z.copy(), z.copy(), np.zeros((n, k), bool))

    @classmethod
    def concat(cls, *objs: EMObjects) -> EMObjects:
        """Concatenate along the object axis (K); ``bend`` is kept if any part has one (0 elsewhere)."""
        bend = None
        if any(o.bend is not None for o in objs):
            bend = np.concatenate(
                [np.zeros(o.E.shape, F32) if o.bend is None else o.bend for o in objs], axis=1
            )
        return cls(
            *(
                np.concatenate([getattr(o, f) for o in objs], axis=1)
                for f in ("E", "eta", "phi", "t0", "mask")
            ),
            bend=bend,
        )


@dataclass
class HadronObjects:
    """Charged and neutral hadrons reaching the calorimeter (§1.6 "Charged hadron in the calorimeter").

    E (GeV), eta, phi (direction at the calorimeter, after any bending), mask; all (N, K).
    charged (N, K) bool, default all True: charged hadrons leave a MIP trace before their first
    interaction, neutral ones (K0L, n, late K0S) do not.
    """

    E: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    mask: np.ndarray
    charged: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.E = np.asarray(self.E, dtype=F32)
        if self.E.ndim != 2:
            raise ValueError(f"HadronObjects.E: expected a padded (N, K) array, got shape {self.E.shape}")
        _check_shapes(
            "HadronObjects",
            {"eta": self.eta, "phi": self.phi, "mask": self.mask, "charged": self.charged},
            self.E.shape,
        )
        self.eta = np.asarray(self.eta, dtype=F32)
        self.phi = np.asarray(self.phi, dtype=F32)
        self.mask = np.asarray(self.mask, dtype=bool) & (self.E > 0)
        self.charged = np.ones(self.E.shape, bool) if self.charged is None else np.asarray(self.charged, bool)

    @classmethod
    def empty(cls, n: int, k: int = 0) -> HadronObjects:
        z = np.zeros((n, k), F32)
        return cls(z, z.copy(), z.copy(), np.zeros((n, k), bool))
