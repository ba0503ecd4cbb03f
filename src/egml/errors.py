"""The one exception type users see as a single line, and how the CLI reports it."""

from __future__ import annotations

import errno
import os
import sys


class EgmlError(ValueError):
    """A user-facing error: the message names what was wrong, where, and what was expected."""


# errno -> (what happened, how to fix it) for the OS errors a run meets when writing its outputs
_OS_HINTS = {
    errno.ENOSPC: (
        "no space left on device",
        "free disk space or point paths.output_dir/paths.cache_dir elsewhere",
    ),
    errno.EDQUOT: ("disk quota exceeded", "free space or point paths.output_dir/paths.cache_dir elsewhere"),
    errno.EFBIG: (
        "file too large for the file-size limit (ulimit -f)",
        "raise the limit or point paths.output_dir/paths.cache_dir elsewhere",
    ),
    errno.EACCES: ("permission denied", "choose a writable directory (hydra.run.dir / paths.output_dir)"),
    errno.EPERM: (
        "operation not permitted",
        "choose a writable directory (hydra.run.dir / paths.output_dir)",
    ),
    errno.EROFS: ("read-only file system", "choose a writable directory (hydra.run.dir / paths.output_dir)"),
    errno.ENOTDIR: ("a parent of the path is a file, not a directory", "choose another path"),
}


def describe_os_error(exc: OSError, action: str = "", path: str | os.PathLike[str] | None = None) -> str:
    """One line for an OSError: what failed (``action``), the path, and how to fix it."""
    what, fix = _OS_HINTS.get(exc.errno or -1, (exc.strerror or str(exc), ""))
    path = path if path is not None else (exc.filename if exc.filename is not None else "")
    where = f" {action}" if action else ""
    where += f" '{path}'" if path else ""
    head = f"could not{where}" if action else (f"'{path}'" if path else "I/O error")
    return f"{head}: {what}" + (f"; {fix}" if fix else "")


def debug_enabled() -> bool:
    return os.environ.get("EGML_DEBUG", "") not in ("", "0", "false", "False")


def report_and_exit(exc: BaseException, code: int = 2) -> None:
    """Print ``egml: error: <one line>`` to stderr and exit, unless EGML_DEBUG=1 (then re-raise)."""
    if debug_enabled():
        raise exc
    text = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
    message = " ".join(text.split()) or type(exc).__name__
    print(f"egml: error: {message} (set EGML_DEBUG=1 for a traceback)", file=sys.stderr)
    sys.exit(code)
