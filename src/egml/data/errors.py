"""The data layer's one-line error, and the helper that suggests the closest names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

try:  # the CLI-wide user error (egml.errors); fall back to ValueError if it is absent
    from egml.errors import EgmlError as _Base
except ImportError:  # pragma: no cover - only while egml.errors does not exist
    _Base = ValueError


class DataError(_Base):
    """Bad input data: the message names the file/tree/branch/key and what was expected."""


def closest(name: str, candidates: Iterable[str], n: int = 5) -> str:
    """``"closest: a, b"`` listing the candidates nearest to ``name`` (difflib), or a short listing."""
    pool = sorted(set(candidates))
    near = difflib.get_close_matches(name, pool, n=n, cutoff=0.5)
    if not near:
        near = difflib.get_close_matches(name.lower(), pool, n=n, cutoff=0.3)
    if near:
        return "closest: " + ", ".join(near)
    shown = ", ".join(pool[:n]) + (", ..." if len(pool) > n else "")
    return f"available: {shown or 'none'}"
