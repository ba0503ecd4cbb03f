"""Finding input files and opening their trees, with one-line errors for every way it fails."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import uproot

from egml.data.errors import DataError, closest

_TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")


def resolve_files(files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand globs (sorted, duplicates removed, order of the patterns kept) and check existence."""
    patterns = [files] if isinstance(files, str | os.PathLike) else list(files)
    if not patterns:
        raise DataError("no input files given; expected data.files (a list of paths or globs)")
    out: list[str] = []
    for pattern in map(str, patterns):
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(os.path.expanduser(pattern)))
            if not matches:
                raise DataError(f"glob {pattern!r} matches no file; expected at least one ROOT file")
        else:
            path = os.path.expanduser(pattern)
            if not os.path.exists(path):
                parent = Path(path).parent
                hint = (
                    closest(Path(path).name, os.listdir(parent))
                    if parent.is_dir()
                    else "its folder does not exist"
                )
                raise DataError(f"input file {pattern!r} does not exist; {hint}")
            if os.path.isdir(path):
                raise DataError(
                    f"input {pattern!r} is a directory; expected a ROOT file or a glob like '{path}/*.root'"
                )
            matches = [path]
        out.extend(m for m in matches if m not in out)
    return out


def open_tree(path: str, tree: str) -> Any:
    """Open ``path`` and return its TTree ``tree`` (a path like ``fevt/RHTree`` is allowed)."""
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: empty file (0 bytes); expected a ROOT file with tree {tree!r}")
    try:
        handle = uproot.open(path)
    except Exception as exc:  # uproot raises many types for non-ROOT bytes
        raise DataError(
            f"{path}: not a readable ROOT file ({type(exc).__name__}: {_first_line(exc)}); "
            "expected a ROOT file (check the file was fully copied)"
        ) from None
    try:
        obj = handle[tree]
    except Exception:
        trees = _trees_in(handle)
        raise DataError(
            f"{path}: no tree {tree!r}; trees present: {', '.join(trees) if trees else 'none'}"
        ) from None
    if not isinstance(obj, uproot.behaviors.TTree.TTree):
        kind = "an RNTuple" if "RNTuple" in type(obj).__name__ else f"a {type(obj).__name__}"
        raise DataError(
            f"{path}: {tree!r} is {kind}, not a TTree; trees: {', '.join(_trees_in(handle)) or 'none'} "
            "(uproot >= 5.7 writes RNTuples on file[name] = data; write TTrees with file.mktree(name, data))"
        )
    return obj


def _trees_in(handle: Any) -> list[str]:
    try:
        classes = handle.classnames()
    except Exception:  # a broken directory: nothing to list
        return []
    return sorted({k.split(";")[0] for k, c in classes.items() if c in _TREE_CLASSES})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else ""


def check_branches(tree: Any, path: str, needed: Sequence[str]) -> None:
    """Raise on the first branch of ``needed`` that the tree lacks, naming the closest ones."""
    available = set(tree.keys(recursive=True, full_paths=True)) | set(tree.keys(recursive=False))
    for name in needed:
        if name not in available:
            raise DataError(
                f"{path}: tree {tree.object_path.lstrip('/').split(';')[0]!r} has no branch {name!r}; "
                f"{closest(name, available)}"
            )


def read_failure(path: str, tree: str, exc: BaseException) -> DataError:
    """The error for a file that opened but whose baskets cannot be read (truncated, corrupt)."""
    return DataError(
        f"{path}: tree {tree!r} could not be read ({type(exc).__name__}: {_first_line(exc)}); "
        "the file is truncated or corrupt, expected a complete ROOT file"
    )
