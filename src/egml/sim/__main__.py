"""Command line: ``python -m egml.sim task=photon_cnn n=1000000 out=photons.root seed=1 workers=2``."""

from __future__ import annotations

import signal
import sys
from typing import Any

from egml.sim import registry

USAGE = """usage: python -m egml.sim task=NAME n=N out=FILE.root [key=value ...]

Generate N synthetic candidates of a task (PHYSICS.md) and write them to ROOT (§7).

required:
  task=NAME            one of: {tasks} (or module:Class)
  n=N                  number of accepted candidates (1000000, 1e6 and 1_000_000 all work)
  out=FILE             output ROOT file (written atomically)
optional:
  seed=INT             master seed of the RNG blocks (default 12345)
  detector_seed=INT    detector instance, shared by train and test samples (default 2026)
  shift=NAME           nominal, material, noise, moliere or pileup (§0 rule 6)
  shift.FIELD=X        custom shift: material, noise, moliere (factors) or mu_offset
  knobs.NAME=X         a §8 tuning knob (repeatable)
  workers=INT          worker processes (default 1)
  chunk_blocks=INT     RNG blocks of 4096 candidates per chunk (default 4)
  compression=SPEC     lz4 (default), zstd, zlib, lzma or none, optionally :level
  progress=BOOL        progress bar (default: when stderr is a terminal)
  start_method=NAME    spawn (default), forkserver or fork
"""

_INT_KEYS = ("n", "seed", "detector_seed", "workers", "chunk_blocks")
_STR_KEYS = ("task", "out", "shift", "compression", "start_method")


def _parse_int(key: str, text: str) -> int:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        value = float("nan")
    if not value.is_integer():
        raise ValueError(f"{key}={text!r}: expected an integer")
    return int(value)


def _parse_scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_args(argv: list[str]) -> dict[str, Any]:
    """``key=value`` arguments → keyword arguments of :func:`egml.sim.driver.generate` (plus task/n/out)."""
    kwargs: dict[str, Any] = {}
    knobs: dict[str, Any] = {}
    shift_fields: dict[str, float] = {}
    for arg in argv:
        key, sep, text = arg.partition("=")
        key = key.strip().lstrip("+")
        if not sep or not key:
            raise ValueError(f"bad argument {arg!r}: expected key=value (see --help)")
        if key in kwargs:
            raise ValueError(f"{key} given twice")
        if key in _INT_KEYS:
            kwargs[key] = _parse_int(key, text)
        elif key in _STR_KEYS:
            kwargs[key] = text
        elif key == "progress":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"progress={text!r}: expected true or false")
            kwargs[key] = text.lower() in ("true", "1")
        elif key.startswith(("knobs.", "knob.")) and key.partition(".")[2]:
            knobs[key.partition(".")[2]] = _parse_scalar(text)
        elif key.startswith("shift.") and key.partition(".")[2]:
            try:
                shift_fields[key.partition(".")[2]] = float(text)
            except ValueError:
                raise ValueError(f"{key}={text!r}: expected a number") from None
        else:
            allowed = [*_INT_KEYS, *_STR_KEYS, "progress", "knobs.NAME", "shift.FIELD"]
            raise ValueError(f"unknown key {key!r}; expected one of {allowed}")
    missing = [k for k in ("task", "n", "out") if k not in kwargs]
    if missing:
        raise ValueError(f"missing required argument(s) {', '.join(k + '=...' for k in missing)}")
    if shift_fields:
        if "shift" in kwargs:
            raise ValueError("give either shift=NAME or shift.FIELD=X, not both")
        kwargs["shift"] = shift_fields
    if knobs:
        kwargs["knobs"] = knobs
    return kwargs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or any(a in ("-h", "--help", "help") for a in argv):
        print(USAGE.format(tasks=", ".join(registry.task_names())))
        return 0
    # SLURM/kill send SIGTERM: turn it into SystemExit so the partial output file is removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        kwargs = parse_args(argv)
        from egml.sim.driver import generate

        path = generate(kwargs.pop("task"), kwargs.pop("n"), kwargs.pop("out"), **kwargs)
    except (ValueError, RuntimeError) as err:
        print(f"egml.sim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("egml.sim: interrupted; no output written", file=sys.stderr)
        return 130
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
