"""Decode ROOT once into a content-hashed folder of ``.npy`` files, memory-mapped when read.

The key hashes the files' absolute path, size and modification time, the tree, the parsed branch
map, the selection, the objects collection, the entry range and the non-finite policy; a changed
file gives a new key and a rebuild. A cache is written into a temporary folder and renamed into
place in one step, so an interrupted write leaves no partial cache (issue 10). Jagged fields are
stored as offsets + flat content.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egml.data.branch_map import FieldSpec
from egml.data.errors import DataError
from egml.data.store import Jagged, StoredColumn

log = logging.getLogger(__name__)
CACHE_FORMAT = 1  # bump when the on-disk layout changes
_STALE_TMP_S = 3600.0  # temporary folders older than this are left-overs of killed writers


@dataclass
class StoredTable:
    """Columns in stored form with row provenance (see :class:`egml.data.reader.Table`)."""

    columns: dict[str, StoredColumn]
    file_id: np.ndarray
    entry: np.ndarray
    files: list[str]
    n_dropped: int = 0
    cache_path: str | None = None
    from_cache: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entry)


def cache_key(
    paths: list[str],
    tree: str,
    specs: dict[str, FieldSpec],
    selection: str | None,
    objects: str | None,
    entry_range: tuple[int, int] | None,
    nonfinite: str,
) -> str:
    """Hex digest identifying a decoded table."""
    stats = [(os.path.abspath(p), os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "files": stats,
            "tree": tree,
            "fields": {k: v.to_dict() for k, v in specs.items()},
            "selection": selection,
            "objects": objects,
            "entry_range": None if entry_range is None else list(map(int, entry_range)),
            "nonfinite": nonfinite,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def read_cache(path: str) -> StoredTable | None:
    """The table stored at ``path`` (memory-mapped), or None if absent or incomplete."""
    meta_path = os.path.join(path, "meta.json")
    if not os.path.isfile(meta_path):
        return None
    with open(meta_path) as f:
        meta = json.load(f)
    if meta.get("format") != CACHE_FORMAT:
        return None

    def arr(name: str) -> np.ndarray:
        return np.load(os.path.join(path, name), mmap_mode="r")

    columns: dict[str, StoredColumn] = {}
    for i, (name, kind) in enumerate(meta["columns"]):
        columns[name] = (
            Jagged(arr(f"{i}.offsets.npy"), arr(f"{i}.content.npy")) if kind == "jagged" else arr(f"{i}.npy")
        )
    return StoredTable(
        columns, arr("file_id.npy"), arr("entry.npy"), meta["files"], meta["n_dropped"], path, True, meta
    )


def write_cache(path: str, table: StoredTable) -> None:
    """Write ``table`` to a temporary folder beside ``path`` and rename it into place."""
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
        _remove_stale(parent)
        tmp = tempfile.mkdtemp(dir=parent, prefix=f".tmp-{os.path.basename(path)}-")
    except OSError as exc:
        raise DataError(
            f"cache folder {parent!r} is not writable ({exc.strerror}); set paths.cache_dir to a writable folder"
        ) from None
    try:
        kinds = []
        for i, (name, column) in enumerate(table.columns.items()):
            if isinstance(column, Jagged):
                np.save(os.path.join(tmp, f"{i}.offsets.npy"), column.offsets)
                np.save(os.path.join(tmp, f"{i}.content.npy"), np.ascontiguousarray(column.content))
                kinds.append((name, "jagged"))
            else:
                np.save(os.path.join(tmp, f"{i}.npy"), np.ascontiguousarray(column))
                kinds.append((name, "array"))
        np.save(os.path.join(tmp, "file_id.npy"), table.file_id)
        np.save(os.path.join(tmp, "entry.npy"), table.entry)
        meta = {"format": CACHE_FORMAT, "columns": kinds, "files": table.files, "n_dropped": table.n_dropped}
        meta.update(table.meta)
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f)
        try:
            os.rename(tmp, path)
        except OSError:
            if not os.path.isdir(path):  # another process may have renamed first: keep its copy
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(
            f"could not write cache {path!r} ({exc.strerror or exc}: disk full or file-size limit?); "
            "expected a writable cache_dir with free space (free space, set paths.cache_dir elsewhere "
            "or data.cache=false)"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove_stale(parent: str) -> None:
    now = time.time()
    for name in os.listdir(parent):
        full = os.path.join(parent, name)
        if name.startswith(".tmp-") and now - os.path.getmtime(full) > _STALE_TMP_S:
            shutil.rmtree(full, ignore_errors=True)


def load_cached(
    files: Any,
    tree: str,
    branch_map: Any,
    fields: Any = None,
    selection: str | None = None,
    objects: str | None = None,
    entry_range: tuple[int, int] | None = None,
    nonfinite: str = "fail",
    extra_branches: tuple[str, ...] = (),
    cache_dir: str | os.PathLike[str] | None = None,
) -> StoredTable:
    """:func:`egml.data.load_table` in stored form, through the cache when ``cache_dir`` is set."""
    from egml.data.branch_map import parse_branch_map
    from egml.data.files import resolve_files
    from egml.data.reader import load_table
    from egml.data.store import to_stored

    specs = parse_branch_map(branch_map, fields)
    specs.update({b: FieldSpec(name=b, branch=b) for b in extra_branches if b not in specs})
    paths = resolve_files(files)
    path = None
    if cache_dir is not None:
        path = os.path.join(
            os.fspath(cache_dir), cache_key(paths, tree, specs, selection, objects, entry_range, nonfinite)
        )
        cached = read_cache(path)
        if cached is not None:
            log.info("data cache hit: %s", path)
            return cached
    table = load_table(paths, tree, specs, selection, objects, entry_range, None, nonfinite)  # type: ignore[arg-type]
    stored = StoredTable(
        {k: to_stored(k, v) for k, v in table.columns.items()},
        table.file_id,
        table.entry,
        table.files,
        table.n_dropped,
    )
    if path is not None:
        write_cache(path, stored)
        log.info("data cache written: %s", path)
        stored.cache_path = path
    return stored
