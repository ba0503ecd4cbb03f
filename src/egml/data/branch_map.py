"""The branch map: the only coupling between a ROOT file and egml's canonical field names.

Each canonical field maps to one branch or one expression (PHYSICS.md §7)::

    pt: y_pt                                   # plain string = branch name
    deltae: {branch: y_deltae, scale: 0.001}   # MeV → GeV
    iso: {expr: "y_topoetcone20 - y_SCsubtraction"}
    img_L2: {branch: y_img_L2, shape: [11, 7], axis_order: [phi, eta]}
    SC_energy: {branch: SC_energy0, reshape: [32, 32]}   # flat std::vector<float>[1024]

Keys:
- ``branch`` | ``expr``: exactly one; ``expr`` is parsed safely (:mod:`egml.data.expression`).
- ``scale``: multiplied in (unit conversion at the edge: egml works in GeV).
- ``reshape``: per-entry shape to give the values (a flat or jagged-but-constant-length
  branch becomes a fixed array).
- ``transpose``: permutation of the per-entry axes, applied after ``reshape``.
- ``shape``: the per-entry shape expected after reshape/transpose; a mismatch, or a jagged branch
  whose lengths differ, is an error.
- ``default``: replaces NaN values (e.g. undefined strip shower shapes, §7) and pads jagged
  fields in batches (padding uses 0 when unset).
- ``axis_order``: names of the per-entry axes after transpose (metadata for image fields).
- ``dtype``: NumPy dtype to cast to (default: keep the on-disk type).
- ``allow_nan``: the field may hold NaN by definition (e.g. undefined strip shower shapes, §2.3,
  that a cut-based menu must see as failing); it is exempt from the ``nonfinite`` policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from egml.data.errors import DataError, closest
from egml.data.expression import parse_expression

_KEYS = (
    "branch",
    "expr",
    "scale",
    "reshape",
    "transpose",
    "shape",
    "default",
    "axis_order",
    "dtype",
    "allow_nan",
    "classes",
    "require_classes",
)


@dataclass(frozen=True)
class FieldSpec:
    """How one canonical field is read."""

    name: str
    branch: str | None = None
    expr: str | None = None
    scale: float | None = None
    reshape: tuple[int, ...] | None = None
    transpose: tuple[int, ...] | None = None
    shape: tuple[int, ...] | None = None
    default: float | None = None
    axis_order: tuple[str, ...] | None = None
    dtype: str | None = None
    allow_nan: bool | None = None
    classes: tuple[int, ...] | None = None  # the only values a label may take
    require_classes: bool | None = None  # every class must have entries (training data)

    @property
    def branches(self) -> tuple[str, ...]:
        """The branch names this field reads."""
        if self.branch is not None:
            return (self.branch,)
        assert self.expr is not None
        return parse_expression(self.expr).names

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for cache keys and checkpoints), without unset keys."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v is not None}


def _int_tuple(value: Any, field: str, key: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise DataError(
            f"branch map field {field!r}: {key} must be a list of integers, got {value!r}"
        ) from None
    if any(v < 0 for v in out):
        raise DataError(f"branch map field {field!r}: {key} must be non-negative, got {list(out)}")
    return out


def parse_field(name: str, entry: str | Mapping[str, Any] | FieldSpec) -> FieldSpec:
    """Validate one branch-map entry."""
    if isinstance(entry, FieldSpec):
        return entry
    if isinstance(entry, str):
        return FieldSpec(name=name, branch=entry)
    if not isinstance(entry, Mapping):
        raise DataError(
            f"branch map field {name!r} is a {type(entry).__name__}; expected a branch name or a mapping"
        )
    unknown = [k for k in entry if k not in _KEYS]
    if unknown:
        raise DataError(
            f"branch map field {name!r} has unknown key {unknown[0]!r}; {closest(str(unknown[0]), _KEYS)}"
        )
    if (entry.get("branch") is None) == (entry.get("expr") is None):
        raise DataError(f"branch map field {name!r} needs exactly one of 'branch' or 'expr'")
    if entry.get("expr") is not None:
        parse_expression(str(entry["expr"]))  # fail early on bad syntax
    dtype = entry.get("dtype")
    if dtype is not None:
        try:
            np.dtype(str(dtype))
        except TypeError:
            raise DataError(f"branch map field {name!r}: dtype {dtype!r} is not a NumPy dtype") from None
    transpose = (
        _int_tuple(entry["transpose"], name, "transpose") if entry.get("transpose") is not None else None
    )
    if transpose is not None and sorted(transpose) != list(range(len(transpose))):
        raise DataError(f"branch map field {name!r}: transpose {list(transpose)} is not a permutation")
    return FieldSpec(
        name=name,
        branch=None if entry.get("branch") is None else str(entry["branch"]),
        expr=None if entry.get("expr") is None else str(entry["expr"]),
        scale=None if entry.get("scale") is None else float(entry["scale"]),
        reshape=_int_tuple(entry["reshape"], name, "reshape") if entry.get("reshape") is not None else None,
        transpose=transpose,
        shape=_int_tuple(entry["shape"], name, "shape") if entry.get("shape") is not None else None,
        default=None if entry.get("default") is None else float(entry["default"]),
        axis_order=None if entry.get("axis_order") is None else tuple(str(a) for a in entry["axis_order"]),
        dtype=None if dtype is None else str(np.dtype(str(dtype))),
        allow_nan=True if entry.get("allow_nan") else None,
        classes=_int_tuple(entry["classes"], name, "classes") if entry.get("classes") is not None else None,
        require_classes=True if entry.get("require_classes") else None,
    )


def parse_branch_map(
    branch_map: Mapping[str, Any] | None, fields: Iterable[str] | None = None
) -> dict[str, FieldSpec]:
    """Canonical name → :class:`FieldSpec`, restricted to ``fields`` when given.

    With ``branch_map=None`` every requested field is read from the branch of the same name.
    """
    if branch_map is None:
        if fields is None:
            raise DataError("no branch map and no fields given; expected at least one of them")
        return {f: FieldSpec(name=f, branch=f) for f in fields}
    if not isinstance(branch_map, Mapping):
        raise DataError(f"branch map is a {type(branch_map).__name__}; expected a mapping field → branch")
    names = list(branch_map) if fields is None else list(fields)
    missing = [f for f in names if f not in branch_map]
    if missing:
        raise DataError(f"field {missing[0]!r} is not in the branch map; {closest(missing[0], branch_map)}")
    return {str(f): parse_field(str(f), branch_map[f]) for f in names}
