"""``egml.data.load``: ROOT files → canonical columns (NumPy for fixed shapes, awkward for jagged)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import awkward as ak
import numpy as np

from egml.data.branch_map import FieldSpec, parse_branch_map
from egml.data.columns import Column, evaluate_field, finish_field, nonfinite_rows, read_branches
from egml.data.errors import DataError
from egml.data.expression import parse_expression
from egml.data.files import check_branches, open_tree, read_failure, resolve_files
from egml.data.objects import (
    collection_branch,
    counter_branch,
    flatten_mask,
    flatten_objects,
    is_object_field,
    object_counts,
)

log = logging.getLogger(__name__)
NonFinitePolicy = Literal["fail", "drop", "ignore"]
Files = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


@dataclass
class Table:
    """Canonical columns plus where each row came from (file index into ``files``, entry in file)."""

    columns: dict[str, Column]
    file_id: np.ndarray  # int32, index into files
    entry: np.ndarray  # int64, entry number in its file
    files: list[str]
    n_dropped: int = 0  # rows removed by the non-finite policy "drop"
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entry)


def load(
    files: Files,
    tree: str,
    branch_map: Mapping[str, Any] | None,
    selection: str | None = None,
    objects: str | None = None,
    entry_range: tuple[int, int] | None = None,
    fields: Iterable[str] | None = None,
    nonfinite: NonFinitePolicy = "fail",
) -> dict[str, np.ndarray | ak.Array]:
    """Read the canonical fields of ``branch_map`` from ``tree`` in ``files`` (paths or globs).

    ``selection`` is a safe expression over branch names (e.g. ``"abs(y_eta) < 2.37"``);
    ``objects="Electron"`` flattens the ``Electron_*`` collection to one candidate per entry;
    ``entry_range=(start, stop)`` counts entries over the files in order (before selection);
    ``nonfinite`` is the NaN/inf policy: fail (with count and first entries), drop (and log), ignore.
    """
    return load_table(files, tree, branch_map, selection, objects, entry_range, fields, nonfinite).columns


def load_table(
    files: Files,
    tree: str,
    branch_map: Mapping[str, Any] | None,
    selection: str | None = None,
    objects: str | None = None,
    entry_range: tuple[int, int] | None = None,
    fields: Iterable[str] | None = None,
    nonfinite: NonFinitePolicy = "fail",
    extra_branches: Iterable[str] = (),
) -> Table:
    """:func:`load` plus row provenance; ``extra_branches`` are read as columns of the same name."""
    specs = parse_branch_map(branch_map, fields)
    specs.update({b: FieldSpec(name=b, branch=b) for b in extra_branches if b not in specs})
    paths = resolve_files(files)
    trees = [open_tree(p, tree) for p in paths]
    sizes = np.array([t.num_entries for t in trees], dtype=np.int64)
    if sizes.sum() == 0:
        raise DataError(f"tree {tree!r} has no entries in {', '.join(paths)}; expected at least one entry")
    start, stop = (0, int(sizes.sum())) if entry_range is None else map(int, entry_range)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    parts: list[tuple[int, dict[str, Column], np.ndarray]] = []
    n_read = 0
    for i, (path, ttree) in enumerate(zip(paths, trees)):
        lo, hi = max(start - offsets[i], 0), min(stop - offsets[i], sizes[i])
        if sizes[i] == 0:
            log.warning("%s: tree %r has no entries; skipped", path, tree)
        if hi <= lo:
            continue
        cols, entry = read_tree(ttree, path, tree, specs, selection, objects, int(lo), int(hi))
        n_read += int(hi - lo)
        parts.append((i, cols, entry))
    n_kept = sum(len(p[2]) for p in parts)
    if n_kept == 0:
        what = f"selection {selection!r} keeps no entries" if selection else "no candidates"
        raise DataError(
            f"{what} of {n_read} read from tree {tree!r} in {', '.join(paths)}; expected at least one"
        )
    columns = {name: _concatenate([p[1][name] for p in parts]) for name in specs}
    file_id = np.concatenate([np.full(len(p[2]), p[0], dtype=np.int32) for p in parts])
    entry = np.concatenate([p[2] for p in parts])
    table = Table(columns, file_id, entry, paths)
    table = apply_nonfinite_policy(table, nonfinite, tree, nan_allowed(specs))
    check_classes(table, specs, tree)
    return table


def check_classes(table: Table, specs: Mapping[str, FieldSpec], tree: str) -> None:
    """Label fields with declared ``classes``: no other value, and (``require_classes``) none empty."""
    for name, spec in specs.items():
        if spec.classes is None:
            continue
        value = np.asarray(table.columns[name])
        allowed = np.asarray(spec.classes)
        outside = ~np.isin(value, allowed)
        source = f"field {name!r} (branch {spec.branch or spec.expr!r}) of tree {tree!r}"
        if outside.any():
            idx = np.flatnonzero(outside)
            where = ", ".join(_row_name(table, i) for i in idx[:3])
            raise DataError(
                f"{source}: {idx.size} of {len(table)} entries hold labels {np.unique(value[idx])[:5].tolist()} "
                f"outside the task's classes {list(spec.classes)}; first at {where}; "
                "expected only those labels (fix the label branch, or drop such entries with data.selection)"
            )
        if spec.require_classes:
            missing = [int(c) for c in allowed if not np.any(value == c)]
            if missing:
                raise DataError(
                    f"{source}: no entries of class {', '.join(map(str, missing))} (of classes "
                    f"{list(spec.classes)}) among the {len(table)} entries of {', '.join(table.files)}; "
                    "every class needs training entries: add files holding it"
                )


def _row_name(table: Table, i: int) -> str:
    return f"{os.path.basename(table.files[table.file_id[i]])}:{table.entry[i]}"


def read_tree(
    ttree: Any,
    path: str,
    tree: str,
    specs: Mapping[str, FieldSpec],
    selection: str | None,
    objects: str | None,
    entry_start: int,
    entry_stop: int,
) -> tuple[dict[str, Column], np.ndarray]:
    """Canonical columns of one file's entries ``[entry_start, entry_stop)`` and each row's entry."""
    sel = parse_expression(selection) if selection else None
    needed = [b for s in specs.values() for b in s.branches] + list(sel.names if sel else ())
    counter = member = None
    if objects is not None:
        counter = counter_branch(ttree, objects)
        member = None if counter else collection_branch(ttree, objects, path)
        needed.append(counter or member)  # type: ignore[arg-type]
    needed = list(dict.fromkeys(needed))
    check_branches(ttree, path, needed)
    where = f"{path}:{tree}"
    try:
        raw = read_branches(ttree, needed, entry_start, entry_stop)
    except DataError:
        raise
    except Exception as exc:  # decompression or basket errors: truncated or corrupt file
        raise read_failure(path, tree, exc) from None
    entry = np.arange(entry_start, entry_stop, dtype=np.int64)
    counts = object_counts(raw, counter, member) if objects is not None else None
    columns: dict[str, Column] = {}
    for name, spec in specs.items():
        value = evaluate_field(spec, raw)
        if counts is not None:
            value = flatten_objects(value, counts, is_object_field(spec.branches, objects), name, where)
        columns[name] = finish_field(spec, value, where)
    if counts is not None:
        entry = np.repeat(entry, counts)
    if sel is not None:
        mask = flatten_mask(sel.evaluate(raw), counts, sel.text, where)
        columns = {k: v[mask] for k, v in columns.items()}
        entry = entry[mask]
    return columns, entry


def nan_allowed(specs: Mapping[str, FieldSpec]) -> frozenset[str]:
    """Fields declared ``allow_nan`` in the branch map (exempt from the nonfinite policy)."""
    return frozenset(name for name, spec in specs.items() if spec.allow_nan)


def apply_nonfinite_policy(
    table: Table, policy: NonFinitePolicy, tree: str, exempt: frozenset[str] = frozenset()
) -> Table:
    """Fail on (with count and first rows), drop, or ignore rows holding NaN or ±inf."""
    if policy not in ("fail", "drop", "ignore"):
        raise DataError(f"nonfinite policy {policy!r} is unknown; expected 'fail', 'drop' or 'ignore'")
    if policy == "ignore":
        return table
    bad = np.zeros(len(table), dtype=bool)
    first_field: dict[str, int] = {}
    for name, value in table.columns.items():
        if name in exempt:
            continue
        rows = nonfinite_rows(value)
        if rows.any():
            first_field[name] = int(rows.sum())
            bad |= rows
    if not bad.any():
        return table
    idx = np.flatnonzero(bad)
    where = ", ".join(f"{os.path.basename(table.files[table.file_id[i]])}:{table.entry[i]}" for i in idx[:3])
    fields = ", ".join(f"{k} ({v})" for k, v in first_field.items())
    if policy == "fail":
        raise DataError(
            f"tree {tree!r}: {idx.size} of {len(table)} entries hold NaN or inf in fields {fields}; "
            f"first at {where}; expected finite inputs (set a branch-map 'default' or nonfinite='drop')"
        )
    keep = ~bad
    log.warning(
        "dropped %d of %d entries with NaN or inf in %s (first at %s)", idx.size, len(table), fields, where
    )
    return Table(
        {k: v[keep] for k, v in table.columns.items()},
        table.file_id[keep],
        table.entry[keep],
        table.files,
        table.n_dropped + int(idx.size),
        table.meta,
    )


def _concatenate(values: list[Column]) -> Column:
    if len(values) == 1:
        return values[0]
    if all(isinstance(v, np.ndarray) for v in values):
        return np.concatenate(values)
    return ak.concatenate([ak.Array(v) if isinstance(v, np.ndarray) else v for v in values])


__all__ = ["Table", "apply_nonfinite_policy", "load", "load_table", "nan_allowed", "read_tree"]
