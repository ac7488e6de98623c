"""Live servers for tests that go through HTTP: uvicorn in a thread (browser, races), or
a real `qinglu serve` process (bursts, crashes)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from qinglu.web.app import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(database_url: str) -> Iterator[str]:
    """Serve the app on a free loopback port; yield its base URL; stop on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(database_url), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def start_qinglu_serve(database_url: str, workers: int, var: Path
                       ) -> tuple[subprocess.Popen[bytes], str]:
    """`qinglu serve --db URL --workers N` as an operator starts it (defaults otherwise),
    in a process group of its own (stopped with `stop_qinglu_serve`, or killed whole);
    returns the process and its base URL once it answers /health. Its log (JSON lines on
    stdout, anything else on stderr) goes to var/serve.log."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("QINGLU_THREADS", "QINGLU_MAX_IN_FLIGHT", "QINGLU_DATABASE_URL")}
    env["QINGLU_VAR_DIR"] = str(var)
    qinglu = Path(sys.executable).with_name("qinglu")
    var.mkdir(parents=True, exist_ok=True)
    with (var / "serve.log").open("ab") as log:
        process = subprocess.Popen(
            [str(qinglu), "serve", "--db", database_url, "--port", str(port),
             "--workers", str(workers)], env=env, stdout=log,
            stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_qinglu_serve(process, signal.SIGKILL)
            raise RuntimeError(f"qinglu serve did not start; see {var / 'serve.log'}")
        time.sleep(0.2)


def stop_qinglu_serve(process: subprocess.Popen[bytes],
                      sig: signal.Signals = signal.SIGTERM) -> None:
    """Signal the server's whole process group (its workers too) and wait for it."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def qinglu_serve(database_url: str, workers: int, var: Path) -> Iterator[str]:
    """A `qinglu serve` for the length of a block; yields its base URL; SIGTERM on exit."""
    process, base = start_qinglu_serve(database_url, workers, var)
    try:
        yield base
    finally:
        stop_qinglu_serve(process)
