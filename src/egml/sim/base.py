"""The contract between the generation driver and each task's generator.

A generator produces candidates in fixed RNG blocks of ``BLOCK_SIZE`` candidates
(PHYSICS.md §0 rule 5). Block ``b`` of task ``task_id`` always draws from
``Generator(PCG64(SeedSequence(entropy=master_seed, spawn_key=(task_id, b))))`` with
fixed-shape draws, so the output never depends on chunking or worker count. A block
may return fewer than ``BLOCK_SIZE`` entries (acceptance cuts such as the
reconstructed E_T window); the driver concatenates blocks in order and truncates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import awkward as ak
import numpy as np

BLOCK_SIZE = 4096  # candidates per RNG block: a constant of the generator version


@dataclass(frozen=True)
class Shift:
    """Nuisance shifts of a test sample (PHYSICS.md §0 rule 6); 1.0 / 0.0 = nominal."""

    material: float = 1.0  # scales X_conv and X_up (mat_scale)
    noise: float = 1.0  # scales electronic and pileup noise
    moliere: float = 1.0  # scales the effective Molière radius
    mu_offset: float = 0.0  # added to the pileup μ

    @classmethod
    def named(cls, name: str | None) -> Shift:
        presets = {
            None: cls(),
            "nominal": cls(),
            "material": cls(material=1.05),
            "noise": cls(noise=1.10),
            "moliere": cls(moliere=1.03),
            "pileup": cls(mu_offset=10.0),
        }
        if name not in presets:
            raise ValueError(f"unknown shift {name!r}; expected one of {sorted(k for k in presets if k)}")
        return presets[name]


@dataclass
class GenConfig:
    """Seeds, shifts and tuning knobs handed to a generator."""

    master_seed: int = 12345
    detector_seed: int = 2026  # one detector instance shared by train and test files
    shift: Shift = field(default_factory=Shift)
    knobs: dict[str, Any] = field(default_factory=dict)  # §8 knobs overriding the defaults


Columns = dict[str, "np.ndarray | ak.Array"]


class TaskGenerator(Protocol):
    """What every task generator (T1..T4) provides."""

    task: str  # egml task name, e.g. "photon_cnn"
    task_id: int  # stable integer in the RNG spawn key
    tree: str  # ROOT tree path, e.g. "SinglePhoton" or "fevt/RHTree"

    def __init__(self, config: GenConfig) -> None: ...

    def generate_block(self, rng: np.random.Generator, n: int = BLOCK_SIZE) -> Columns:
        """Columns for one RNG block (numpy arrays with a leading candidate axis, or
        awkward jagged arrays for per-cell vectors), named and unit-scaled as on disk (§7)."""
        ...

    def branch_units(self) -> dict[str, str]:
        """Unit of every branch written (recorded in the file's ``gen_config`` metadata)."""
        ...

    def metadata(self) -> dict[str, Any]:
        """Extra generator metadata (knob values, axis order, enum versions)."""
        ...
