"""ROOT writing of generator columns with uproot (PHYSICS.md §7).

Fixed-shape arrays become ``float[a][b]`` branches, jagged per-candidate arrays become
C-style arrays with a shared counter ``n<name>`` (see :mod:`egml.sim.base` for how a
generator names them), trees may live in sub-directories (``fevt/RHTree``) and the
file-level metadata is a JSON ``TObjString``. Files are written atomically: to a
temporary name in the target directory, fsync'ed and renamed; on any error (including
KeyboardInterrupt) the partial file is removed.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import awkward as ak
import numpy as np
import uproot

from egml.sim.base import Columns

# LZ4 is the default: uproot reads LZ4 ~6x faster than ZLIB, uproot's own default (SLURM.md).
DEFAULT_COMPRESSION = "lz4:1"
_ALGORITHMS = {"lz4": uproot.LZ4, "zlib": uproot.ZLIB, "zstd": uproot.ZSTD, "lzma": uproot.LZMA}


def parse_compression(spec: str | None) -> uproot.compression.Compression | None:
    """``"lz4"``, ``"zstd:5"``, ``"ZLIB(1)"``, ``"none"`` → an uproot compression (or None)."""
    if spec is None or str(spec).strip().lower() in ("", "none", "0"):
        return None
    m = re.fullmatch(r"\s*([a-zA-Z0-9]+)\s*(?:[:(]\s*(\d+)\s*\)?)?\s*", str(spec))
    if not m or m.group(1).lower() not in _ALGORITHMS:
        raise ValueError(
            f"bad compression {spec!r}; expected none, lz4, zlib, zstd or lzma, optionally ':level'"
        )
    return _ALGORITHMS[m.group(1).lower()](int(m.group(2) or 1))


def _is_jagged(value: ak.Array) -> bool:
    return isinstance(ak.type(value).content, ak.types.ListType)


def _jagged_groups(columns: Columns) -> tuple[dict[str, np.ndarray], dict[str, dict[str, ak.Array]]]:
    """Split columns into flat numpy arrays and jagged groups ``prefix -> {field: jagged}``."""
    flat: dict[str, np.ndarray] = {}
    groups: dict[str, dict[str, ak.Array]] = {}
    for name, value in columns.items():
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise ValueError(
                    f"column {name!r} is a numpy object array; expected a numeric or awkward array"
                )
            flat[name] = value
        elif isinstance(value, ak.Array):
            if not _is_jagged(value):
                flat[name] = ak.to_numpy(value)
            elif isinstance(ak.type(value).content.content, ak.types.RecordType):
                fields = groups.setdefault(name, {})
                for field_name in ak.fields(value):
                    fields[field_name] = value[field_name]
            else:
                prefix, _, field_name = name.partition("_")
                groups.setdefault(prefix, {})[field_name] = value
        else:
            raise ValueError(
                f"column {name!r} is a {type(value).__name__}; expected a numpy or awkward array"
            )
    return flat, groups


def to_branches(
    columns: Columns, counters: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Data for ``TTree.extend`` and the counter name of each jagged group."""
    flat, groups = _jagged_groups(columns)
    counters = dict(counters or {})
    data: dict[str, Any] = {}
    for prefix, fields in groups.items():
        counts = [ak.to_numpy(ak.num(v, axis=1)) for v in fields.values()]
        if any(not np.array_equal(counts[0], c) for c in counts[1:]):
            raise ValueError(
                f"jagged columns of {prefix!r} ({sorted(fields)}) have different lengths per entry"
            )
        if prefix not in counters:  # an explicit integer column n<prefix>[s] names the counter
            given = [c for c in (f"n{prefix}", f"n{prefix}s") if c in flat]
            counters[prefix] = given[0] if given else f"n{prefix}"
        counter = counters[prefix]
        if counter in flat:
            if not np.array_equal(flat.pop(counter), counts[0]):
                raise ValueError(
                    f"column {counter!r} differs from the lengths of the {prefix!r} jagged columns"
                )
        data[prefix] = fields[""] if list(fields) == [""] else ak.zip(fields, depth_limit=2)
    for name, value in flat.items():
        if name in data:
            raise ValueError(f"column {name!r} is both a flat column and a jagged group")
        data[name] = value
    return data, counters


def branch_names(data: dict[str, Any], counters: dict[str, str]) -> list[str]:
    """Names of the branches uproot writes for ``data`` (counters first, as uproot does)."""
    names: list[str] = []
    for name, value in data.items():
        if isinstance(value, ak.Array):
            names.append(counters[name])
            fields = ak.fields(value)
            names += [f"{name}_{f}" for f in fields] if fields else [name]
        else:
            names.append(name)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"branch name(s) {dup} would be written twice; rename the columns or counters")
    return names


def _branch_type(value: Any) -> Any:
    if isinstance(value, ak.Array):
        return ak.type(value).content
    return value.dtype if value.ndim == 1 else (value.dtype, value.shape[1:])


class RootWriter:
    """Atomic, streaming writer of one tree (plus file-level string metadata).

    >>> with RootWriter("out.root", "fevt/RHTree") as w:
    ...     w.extend(chunk1); w.extend(chunk2)
    ...     w.set_metadata("gen_config", {...})
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        tree: str,
        *,
        compression: str | None = DEFAULT_COMPRESSION,
        counters: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.tree_path = tree.strip("/")
        if not self.tree_path:
            raise ValueError("tree path must be non-empty, e.g. 'SinglePhoton' or 'fevt/RHTree'")
        self.compression = parse_compression(compression)
        self.counters = dict(counters or {})
        self.branches: list[str] = []
        self.n_entries = 0
        self._file: Any = None
        self._tree: Any = None
        self._tmp: Path | None = None
        self._metadata: dict[str, str] = {}

    def __enter__(self) -> RootWriter:
        from egml.atomic import remove_stale_temporaries

        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path)  # left by a killed writer
        # same directory as the target so that the final rename is atomic
        self._tmp = self.path.parent / f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        self._file = uproot.recreate(self._tmp, compression=self.compression)
        return self

    def extend(self, columns: Columns) -> None:
        """Append one chunk of candidates (all columns of equal length)."""
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns of one chunk differ in length: {lengths}")
        data, self.counters = to_branches(columns, self.counters)
        names = branch_names(data, self.counters)
        if self._tree is None:
            counters = self.counters
            self._tree = self._file.mktree(
                self.tree_path,
                {k: _branch_type(v) for k, v in data.items()},
                counter_name=lambda counted: counters.get(counted, f"n{counted}"),
            )
            self.branches = names
        elif names != self.branches:
            raise ValueError(f"chunk branches {names} differ from the first chunk's {self.branches}")
        if next(iter(lengths.values()), 0):
            self._tree.extend(data)
            self.n_entries += next(iter(lengths.values()))

    def set_metadata(self, key: str, value: dict[str, Any] | str) -> None:
        """File-level ``TObjString`` (dicts are stored as JSON), written when the file closes."""
        self._metadata[key] = (
            value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=_json_default)
        )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tmp is not None
        try:
            if exc_type is None:
                for key, text in self._metadata.items():
                    self._file[key] = text
            self._file.close()
            if exc_type is None:
                _fsync(self._tmp)
                os.replace(self._tmp, self.path)
                _fsync(self.path.parent)
        finally:
            self._tmp.unlink(missing_ok=True)  # no-op after the rename


def _json_default(obj: Any) -> Any:
    """numpy scalars/arrays as JSON numbers/lists (knob values are often float32); the rest as str."""
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    return str(obj)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_root(
    path: str | os.PathLike[str],
    tree: str,
    columns: Columns,
    *,
    metadata: dict[str, dict[str, Any] | str] | None = None,
    compression: str | None = DEFAULT_COMPRESSION,
    counters: dict[str, str] | None = None,
) -> Path:
    """Write one in-memory set of columns (and file-level metadata) atomically."""
    with RootWriter(path, tree, compression=compression, counters=counters) as writer:
        writer.extend(columns)
        for key, value in (metadata or {}).items():
            writer.set_metadata(key, value)
    return writer.path
