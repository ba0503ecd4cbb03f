"""The one exception type users see as a single line, and how the CLI reports it."""

from __future__ import annotations

import os
import sys


class EgmlError(ValueError):
    """A user-facing error: the message names what was wrong, where, and what was expected."""


def debug_enabled() -> bool:
    return os.environ.get("EGML_DEBUG", "") not in ("", "0", "false", "False")


def report_and_exit(exc: BaseException, code: int = 2) -> None:
    """Print ``egml: error: <one line>`` to stderr and exit, unless EGML_DEBUG=1 (then re-raise)."""
    if debug_enabled():
        raise exc
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"egml: error: {message} (set EGML_DEBUG=1 for a traceback)", file=sys.stderr)
    sys.exit(code)
