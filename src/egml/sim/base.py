"""The contract between the generation driver and each task's generator.

A generator produces candidates in fixed RNG blocks of ``BLOCK_SIZE`` candidates
(PHYSICS.md §0 rule 5). Block ``b`` of task ``task_id`` always draws from
``Generator(PCG64(SeedSequence(entropy=master_seed, spawn_key=(task_id, b))))`` with
fixed-shape draws, so the output never depends on chunking or worker count. A block
may return fewer than ``BLOCK_SIZE`` entries (acceptance cuts such as the
reconstructed E_T window); the driver concatenates blocks in order and truncates.

Columns are written to ROOT by :mod:`egml.sim.writer` (PHYSICS.md §7):

- numpy arrays of shape ``(N,)`` or ``(N, a, b)`` become scalar or ``float[a][b]`` branches;
- awkward jagged arrays are written as C-style arrays with a shared counter. Either give a
  record ``"cells": ak.zip({"e": ..., "eta": ...})`` (branches ``cells_e``, ``cells_eta``) or
  separate jagged arrays ``"cells_e"``, ``"cells_eta"`` (grouped by the prefix before the first
  ``_``). The counter is ``n<prefix>`` unless the generator's optional ``jagged_counters``
  maps the prefix to another name (T4: ``{"cell": "ncells"}``), or the columns hold an
  integer array named ``n<prefix>``/``n<prefix>s`` equal to the counts (then that name is used).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import awkward as ak
import numpy as np

BLOCK_SIZE = 4096  # candidates per RNG block: a constant of the generator version
SIM_VERSION = "1.1"  # PHYSICS.md version the generators implement; part of every cache key


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

    @classmethod
    def coerce(cls, shift: Shift | str | dict[str, float] | None) -> Shift:
        """A Shift from a preset name, a dict of fields, an existing Shift or None (nominal)."""
        if isinstance(shift, Shift):
            return shift
        if shift is None or isinstance(shift, str):
            return cls.named(shift)
        if isinstance(shift, dict):
            unknown = set(shift) - set(asdict(cls()))
            if unknown:
                raise ValueError(
                    f"unknown shift field(s) {sorted(unknown)}; expected {sorted(asdict(cls()))}"
                )
            return cls(**{k: float(v) for k, v in shift.items()})
        raise ValueError(f"shift must be a name, a dict or a Shift, got {type(shift).__name__}")

    @property
    def is_nominal(self) -> bool:
        return self == Shift()

    def label(self) -> str:
        """Preset name if this is one, else a compact ``field=value`` string."""
        for name in ("nominal", "material", "noise", "moliere", "pileup"):
            if self == Shift.named(name):
                return name
        return ",".join(f"{k}={v:g}" for k, v in asdict(self).items() if v != getattr(Shift(), k))


@dataclass
class GenConfig:
    """Seeds, shifts and tuning knobs handed to a generator."""

    master_seed: int = 12345
    detector_seed: int = 2026  # one detector instance shared by train and test files
    shift: Shift = field(default_factory=Shift)
    knobs: dict[str, Any] = field(default_factory=dict)  # §8 knobs overriding the defaults

    def to_dict(self) -> dict[str, Any]:
        return {
            "master_seed": int(self.master_seed),
            "detector_seed": int(self.detector_seed),
            "shift": asdict(self.shift),
            "knobs": dict(sorted(self.knobs.items())),
        }


Columns = dict[str, "np.ndarray | ak.Array"]


class TaskGenerator(Protocol):
    """What every task generator (T1..T4) provides.

    Optional class attributes read by the driver/writer: ``version: str`` (bump it when the
    output for a given seed changes; part of the default-data cache key, default
    ``SIM_VERSION``) and ``jagged_counters: dict[str, str]`` (see the module docstring).
    """

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


def generator_version(generator: object) -> str:
    """The generator's declared ``version`` (default: the PHYSICS.md version ``SIM_VERSION``)."""
    return str(getattr(generator, "version", SIM_VERSION))


def config_hash(task: str, task_id: int, version: str, config: GenConfig) -> str:
    """SHA-256 (hex) of everything that fixes the generated candidates of a task (§6)."""
    payload = {"task": task, "task_id": int(task_id), "version": version, "block_size": BLOCK_SIZE}
    payload.update(config.to_dict())
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
