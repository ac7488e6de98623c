"""Throw-away PostgreSQL servers for the cluster tests: a primary of our own (the
machine's server at 5432 is not to be reconfigured for replication), a streaming hot
standby of it, and PgBouncer, each started from Debian's binaries in a temporary folder
on a free port, and stopped by the pid it wrote.

PostgreSQL and PgBouncer refuse to run as root: when the tests do, the programs run as
the `postgres` account (`runuser`), in a folder it owns."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SERVICE_USER = "postgres"


def available() -> bool:
    return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_service(command: Sequence[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVICE_USER, "--", *command]
    return list(command)


def run(*command: str | Path) -> None:
    subprocess.run(_as_service([str(c) for c in command]), check=True,
                   capture_output=True, timeout=120)


def work_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="qinglu-cluster-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVICE_USER)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


class Server:
    """One PostgreSQL server in `data`, listening on 127.0.0.1:`port`."""

    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.data / "server.log", "-w",
            "-t", "60", "start")

    def pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return None
        return int(pid_file.read_text().split("\n", 1)[0])

    def stop(self) -> None:
        """Fast shutdown of this server's postmaster, by its pid."""
        pid = self.pid()
        if pid is None:
            return
        stop_pid(pid, signal.SIGINT)


def stop_pid(pid: int, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def init_primary(folder: Path) -> Server:
    """A primary that accepts replication from 127.0.0.1 (initdb's trust lines)."""
    server = Server(folder / "primary", free_port())
    run(PG_BIN / "initdb", "-D", server.data, "-U", "postgres", "--auth=trust",
        "-E", "UTF8", "--no-sync", "--locale=C")
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {server.port}\nlisten_addresses = '127.0.0.1'\n"
                   f"unix_socket_directories = '{folder}'\nwal_level = replica\n"
                   "max_wal_senders = 4\nhot_standby = on\nfsync = off\n"
                   "synchronous_commit = on\nfull_page_writes = off\n")
    server.start()
    return server


def init_standby(folder: Path, primary: Server) -> Server:
    """`pg_basebackup -R` of the primary: a hot standby streaming from it."""
    server = Server(folder / "standby", free_port())
    run(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U",
        "postgres", "-D", server.data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
    with (server.data / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = {server.port}\n")
    server.start()
    return server


class Bouncer:
    """PgBouncer in transaction mode on a free port, in front of one database of the
    server at `host:port` (served as `qinglu`), or with `database="*"` in front of every
    one, each under its own name. Its console (database `pgbouncer`) takes `postgres`."""

    def __init__(self, folder: Path, database: str, host: str = "127.0.0.1",
                 port: int = 5432, pool_size: int = 4) -> None:
        self.folder = folder
        self.port = free_port()
        served = (f"* = host={host} port={port} user=postgres" if database == "*" else
                  f"qinglu = host={host} port={port} dbname={database} user=postgres")
        (folder / "users.txt").write_text('"postgres" ""\n')
        (folder / "pgbouncer.ini").write_text(f"""[databases]
{served}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
pidfile = {folder}/pgbouncer.pid
logfile = {folder}/pgbouncer.log
ignore_startup_parameters = extra_float_digits
""")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SERVICE_USER)
            for name in ("users.txt", "pgbouncer.ini"):
                os.chown(folder / name, entry.pw_uid, entry.pw_gid)

    def url(self, database: str = "qinglu") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        run(shutil.which("pgbouncer") or "pgbouncer", "-d", self.folder / "pgbouncer.ini")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pgbouncer did not start")

    def stop(self) -> None:
        """Immediate shutdown (SIGTERM): SIGINT would wait for every client to leave."""
        pid_file = self.folder / "pgbouncer.pid"
        if pid_file.exists():
            stop_pid(int(pid_file.read_text().strip()), signal.SIGTERM)
