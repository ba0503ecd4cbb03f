"""Flattening per-event object collections (``Electron_pt[nElectron]``) to one candidate per entry.

Real per-event ntuples (CMS NanoAOD, many ATLAS ntuples) hold one vector per collection. With
``objects="Electron"`` a field whose branches include an ``Electron_*`` branch is flattened over the
object axis; every other (event-level) field is repeated once per candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np
import uproot

from egml.data.columns import Column, regular_to_numpy
from egml.data.errors import DataError, closest


def counter_branch(tree: Any, objects: str) -> str | None:
    """The counter branch of the collection (``nElectron``, ``NElectron``, ``n_Electron``), if any."""
    keys = set(tree.keys())
    for name in (f"n{objects}", f"N{objects}", f"n_{objects}", f"{objects}_n"):
        if name in keys and isinstance(tree[name].interpretation, uproot.AsDtype):
            return name
    return None


def collection_branch(tree: Any, objects: str, path: str) -> str:
    """A jagged branch of the collection whose lengths give the object counts (no counter case)."""
    for name in tree.keys():
        if name.startswith(f"{objects}_") and not isinstance(tree[name].interpretation, uproot.AsDtype):
            return name
    prefixes = {k.split("_")[0] for k in tree.keys() if "_" in k}
    raise DataError(
        f"{path}: objects={objects!r} but the tree has no {objects}_* collection; {closest(objects, prefixes)}"
    )


def is_object_field(branches: Sequence[str], objects: str | None) -> bool:
    return objects is not None and any(b.startswith(f"{objects}_") for b in branches)


def object_counts(raw: dict[str, Column], counter: str | None, member: str | None) -> np.ndarray:
    if counter is not None:
        return np.asarray(raw[counter], dtype=np.int64)
    assert member is not None
    return ak.to_numpy(ak.num(raw[member], axis=1)).astype(np.int64)


def flatten_objects(value: Column, counts: np.ndarray, is_object: bool, name: str, where: str) -> Column:
    """One row per object: flatten object-level values, repeat event-level ones."""
    if isinstance(value, ak.Array):
        value = regular_to_numpy(value)
    if is_object:
        if not isinstance(value, ak.Array) or value.ndim < 2:
            raise DataError(
                f"{where}: field {name!r} reads the object collection but is not jagged per event"
            )
        per_event = ak.to_numpy(ak.num(value, axis=1))
        if not np.array_equal(per_event, counts):
            bad = int(np.flatnonzero(per_event != counts)[0])
            raise DataError(
                f"{where}: field {name!r} has {per_event[bad]} values in event {bad}; "
                f"expected the collection's count {counts[bad]}"
            )
        return regular_to_numpy(ak.flatten(value, axis=1))
    if isinstance(value, np.ndarray):
        return np.repeat(value, counts, axis=0)
    return value[np.repeat(np.arange(len(counts)), counts)]


def flatten_mask(mask: Column, counts: np.ndarray | None, text: str, where: str) -> np.ndarray:
    """A selection's result as a boolean per candidate (events or flattened objects)."""
    if isinstance(mask, ak.Array):
        mask = regular_to_numpy(mask)
    if isinstance(mask, ak.Array):
        if counts is None:
            raise DataError(
                f"{where}: selection {text!r} is per object (jagged); set objects=<collection> or reduce it per event"
            )
        per_event = ak.to_numpy(ak.num(mask, axis=1))
        if not np.array_equal(per_event, counts):
            raise DataError(f"{where}: selection {text!r} is jagged over another collection than the objects")
        mask = ak.to_numpy(ak.flatten(mask, axis=1))
    elif counts is not None:
        mask = np.repeat(np.asarray(mask), counts)
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.ndim != 1:
        raise DataError(
            f"{where}: selection {text!r} gives {mask.dtype} of shape {mask.shape[1:]} per entry; expected one boolean"
        )
    return mask
