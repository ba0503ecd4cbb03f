"""`python -m egml.cluster start|stop|status [--dir DIR]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from egml.cluster.config import Layout, default_dir
from egml.cluster.daemons import ClusterError, running, start, stop


def status_text(layout: Layout) -> str:
    pids = running(layout)
    lines = [f"{d:<10} {'running, pid ' + str(p) if p else 'stopped'}" for d, p in pids.items()]
    if all(pids.values()):
        lines.append(f"export SLURM_CONF={layout.slurm_conf}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egml.cluster", description=__doc__)
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="private cluster dir (default $EGML_SLURM_DIR or /tmp/egml-slurm)",
    )
    args = parser.parse_args(argv)
    root = (args.dir or default_dir()).resolve()
    layout = Layout(root)
    try:
        if args.command == "start":
            start(root)
            print(status_text(layout))
        elif args.command == "stop":
            stopped = stop(root)
            print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
        else:
            print(status_text(layout))
            return 0 if all(running(layout).values()) else 1
    except ClusterError as exc:
        print(f"egml: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
