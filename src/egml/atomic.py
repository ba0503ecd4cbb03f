"""Atomic file writes: write to a temporary name in the same directory, then rename.

A reader (or the next run) sees either the old complete file or the new complete one, never a
half-written file; an interrupted write (even ``kill -9``) leaves at most a hidden
``.name.*.tmp``, which the next write to the same path deletes once it is stale.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: errors of a write that are the user's to fix (disk full, file-size limit, quota, permissions)
WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR}
)


#: a temporary older than this (not written to for 10 minutes) is debris of a killed writer
STALE_TMP_S = 600.0


def remove_stale_temporaries(path: str | os.PathLike[str], max_age_s: float = STALE_TMP_S) -> list[Path]:
    """Delete ``.<name>.*.tmp`` siblings of ``path`` untouched for ``max_age_s`` (left by a killed writer).

    Age, not the writer's pid, decides: on a shared file system the writer may run on another
    host, but a live writer keeps its temporary's modification time fresh.
    """
    path = Path(path)
    now = time.time()
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > max_age_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # gone meanwhile, or not ours to remove
            continue
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        from egml.errors import EgmlError, describe_os_error

        raise EgmlError(describe_os_error(exc, "write", path)) from None
    os.close(fd)
    remove_stale_temporaries(path)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are shared like any file
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in WRITE_ERRNOS:  # disk full, size limit, permissions: a user error, one line
            from egml.errors import EgmlError, describe_os_error

            raise EgmlError(describe_os_error(exc, "write", path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(
    path: str | os.PathLike[str], obj: Any, allow_nan: bool = True, indent: int = 2
) -> None:
    text = json.dumps(obj, indent=indent, sort_keys=True, default=_json_default, allow_nan=allow_nan)
    atomic_write_text(path, text + "\n")
