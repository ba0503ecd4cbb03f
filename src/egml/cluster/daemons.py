"""Start, stop and inspect the daemons of a private single-node SLURM cluster (by pid file only)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from egml.cluster.config import (
    CLUSTER_NAME,
    DB_NAME,
    DB_USER,
    Layout,
    Ports,
    slurm_conf,
    slurmdbd_conf,
)
from egml.errors import EgmlError

# Start order; stop runs in reverse.
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
BINARIES = (
    *DAEMONS,
    "mariadb-install-db",
    "mariadb",
    "sacctmgr",
    "sinfo",
    "squeue",
    "scancel",
    "sbatch",
    "sacct",
)
APT_PACKAGES = "slurmctld slurmd slurm-client munge slurmdbd mariadb-server"
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"]
)


class ClusterError(EgmlError):
    """The local cluster could not be started, stopped or reached."""


def which(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH_PATH)


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if which(b) is None]


def _exe(name: str) -> str:
    path = which(name)
    if path is None:
        raise ClusterError(f"egml.cluster: '{name}' not found (install: apt-get install {APT_PACKAGES})")
    return path


def client_env(layout: Layout) -> dict[str, str]:
    return {**os.environ, "SLURM_CONF": str(layout.slurm_conf)}


def read_pid(layout: Layout, daemon: str) -> int | None:
    """The daemon's pid if its pid file names a live process running that daemon (guards pid reuse)."""
    try:
        pid = int(layout.pid_file(daemon).read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return None
    return pid if daemon in cmdline else None


def running(layout: Layout) -> dict[str, int | None]:
    return {d: read_pid(layout, d) for d in DAEMONS}


def _wait(what: str, ok, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.2)
    hint = f" (see {log})" if log else ""
    raise ClusterError(f"egml.cluster: {what} did not come up within {timeout:.0f} s{hint}")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _run(cmd: list[str], layout: Layout, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=client_env(layout), capture_output=True, text=True, **kwargs)


def _check(cmd: list[str], layout: Layout, what: str, **kwargs) -> None:
    res = _run(cmd, layout, **kwargs)
    if res.returncode != 0:
        msg = " ".join((res.stderr or res.stdout).split())[:300]
        raise ClusterError(f"egml.cluster: {what} failed: {msg}")


def _prepare(layout: Layout) -> tuple[Ports, str]:
    for d in (layout.etc, layout.log, layout.pids, layout.root / "spool", layout.munge):
        d.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(layout.root / "state", ignore_errors=True)  # job ids restart at 1
    (layout.root / "state").mkdir()
    os.chmod(layout.root, 0o755)
    key = layout.munge / "munge.key"
    if not key.exists():
        key.write_bytes(secrets.token_bytes(1024))
    shutil.chown(layout.munge, "munge", "munge")
    shutil.chown(key, "munge", "munge")
    os.chmod(layout.munge, 0o755)  # munged needs the socket dir searchable by all
    os.chmod(key, 0o400)
    ports, password = Ports.free(), secrets.token_hex(12)
    ports.save(layout.ports_file)
    layout.slurm_conf.write_text(slurm_conf(layout, ports))
    layout.slurmdbd_conf.write_text(slurmdbd_conf(layout, ports, password))
    os.chmod(layout.slurmdbd_conf, 0o600)
    return ports, password


def _start_munged(layout: Layout) -> None:
    m = layout.munge
    cmd = [_exe("munged"), f"--socket={layout.munge_socket}", f"--key-file={m / 'munge.key'}"]
    cmd += [
        f"--pid-file={m / 'munged.pid'}",
        f"--log-file={m / 'munged.log'}",
        f"--seed-file={m / 'munged.seed'}",
    ]
    res = subprocess.run(cmd, user="munge", group="munge", capture_output=True, text=True)
    if res.returncode != 0:
        raise ClusterError(f"egml.cluster: munged failed: {' '.join(res.stderr.split())[:300]}")
    _wait("munged", lambda: layout.munge_socket.exists(), 10, m / "munged.log")
    # munged writes its pid file in its own (munge-owned) dir; link it beside the others.
    layout.pid_file("munged").unlink(missing_ok=True)
    layout.pid_file("munged").symlink_to(m / "munged.pid")


def _mysql(layout: Layout, sql: str) -> subprocess.CompletedProcess:
    cmd = [_exe("mariadb"), "--no-defaults", f"--socket={layout.mysql_socket}", "-uroot", "-e", sql]
    return _run(cmd, layout)


def _start_mariadb(layout: Layout, ports: Ports, password: str) -> None:
    data = layout.mysql_data
    if not (data / "mysql").exists():
        cmd = [_exe("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=root"]
        cmd += ["--auth-root-authentication-method=normal", "--skip-test-db"]
        _check(cmd, layout, "mariadb-install-db", timeout=120)
    cmd = [_exe("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={layout.mysql_socket}"]
    cmd += [f"--port={ports.mysql}", "--bind-address=127.0.0.1", f"--pid-file={layout.pid_file('mariadbd')}"]
    cmd += [f"--log-error={layout.log / 'mariadbd.log'}", "--user=root", "--innodb-buffer-pool-size=64M"]
    with open(layout.log / "mariadbd.out", "ab") as out:
        subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    _wait("mariadbd", lambda: _mysql(layout, "SELECT 1").returncode == 0, 60, layout.log / "mariadbd.log")
    # slurmctld starts with cleared state (job ids restart at 1): clear the accounting too, or
    # sacct would mix earlier jobs with the same ids into what submitit reads.
    sql = f"DROP DATABASE IF EXISTS {DB_NAME}; CREATE DATABASE {DB_NAME};"
    for host in ("127.0.0.1", "localhost"):
        sql += f"CREATE USER IF NOT EXISTS '{DB_USER}'@'{host}';"
        sql += f"ALTER USER '{DB_USER}'@'{host}' IDENTIFIED BY '{password}';"
        sql += f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'{host}';"
    res = _mysql(layout, sql)
    if res.returncode != 0:
        raise ClusterError(
            f"egml.cluster: creating the accounting database failed: {res.stderr.strip()[:300]}"
        )


def _start_slurm(layout: Layout, ports: Ports) -> None:
    conf = str(layout.slurm_conf)
    env = client_env(layout)
    subprocess.run([_exe("slurmdbd")], env=env, check=False)
    _wait("slurmdbd", lambda: _port_open(ports.slurmdbd), 30, layout.log / "slurmdbd.log")
    _wait(
        "slurmdbd (cluster registration)",
        lambda: (
            _run([_exe("sacctmgr"), "-i", "add", "cluster", CLUSTER_NAME], layout).returncode == 0
            or CLUSTER_NAME
            in _run([_exe("sacctmgr"), "-n", "-P", "list", "cluster", "format=cluster"], layout).stdout
        ),
        30,
        layout.log / "slurmdbd.log",
    )
    _check([_exe("slurmctld"), "-f", conf, "-c", "-i"], layout, "slurmctld")
    _wait("slurmctld", lambda: _port_open(ports.slurmctld), 30, layout.log / "slurmctld.log")
    _check([_exe("slurmd"), "-f", conf, "-N", "localhost"], layout, "slurmd")

    def idle() -> bool:
        res = _run([_exe("sinfo"), "-h", "-N", "-o", "%T"], layout)
        return res.returncode == 0 and res.stdout.strip().startswith("idle")

    _wait("the node (sinfo state idle)", idle, 60, layout.log / "slurmd.log")


def start(root: Path) -> Layout:
    """Start munged, MariaDB, slurmdbd, slurmctld and slurmd with all state under ``root``."""
    layout = Layout(Path(root).resolve())
    if all(running(layout).values()):
        return layout
    missing = missing_binaries()
    if missing:
        raise ClusterError(
            f"egml.cluster: SLURM is not installed (missing: {', '.join(missing)}); "
            f"install with: apt-get install -y --no-install-recommends {APT_PACKAGES}"
        )
    if os.geteuid() != 0:
        raise ClusterError("egml.cluster: starting the local cluster needs root (munged runs as user munge)")
    stop(layout.root)  # a half-started cluster from before
    ports, password = _prepare(layout)
    try:
        _start_munged(layout)
        _start_mariadb(layout, ports, password)
        _start_slurm(layout, ports)
    except BaseException:
        stop(layout.root)
        raise
    return layout


def _terminate(pid: int, timeout: float = 15.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or "Z" in _proc_state(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def stop(root: Path) -> list[str]:
    """Cancel the cluster's jobs, then SIGTERM each daemon named in its pid file; returns those stopped."""
    layout = Layout(Path(root).resolve())
    pids = running(layout)
    if pids["slurmctld"] and which("scancel"):
        _run([_exe("scancel"), "--full", f"--user={os.getuid()}"], layout, timeout=30)
        time.sleep(1.0)
    stopped = []
    for daemon in reversed(DAEMONS):
        pid = pids[daemon]
        if pid is not None:
            _terminate(pid)
            stopped.append(daemon)
        layout.pid_file(daemon).unlink(missing_ok=True)
    return stopped
