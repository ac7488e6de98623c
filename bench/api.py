"""API latency under load: certificate verification and serial look-up vs a minimal endpoint.

Starts `qinglu serve --workers N` on loopback (SQLite with the demo data) in its own
processes, then 50 concurrent clients (keep-alive HTTP/1.1 connections driven by one
asyncio loop) hit, for a fixed time each, first the minimal endpoint `/health` (the
baseline) and then a mix of `GET /api/v1/certificates/{n}/verify` and
`GET /api/v1/units/{serial}`. Prints requests/s and p50/p99 for both and
`ratio=<target rate / baseline rate>` last (medians over alternating rounds). The client
shares the machine's CPUs with
the server, so run it on an otherwise idle machine.

    .venv/bin/python bench/api.py [--clients 50] [--seconds 10] [--rounds 3] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _client(port: int, paths: list[str], offset: int, deadline: float,
                  latencies: list[float], errors: list[int]) -> None:
    """One keep-alive HTTP/1.1 connection sending GETs back to back. A raw asyncio
    client rather than httpx, so that the client's own CPU (it shares the machine
    with the server) is small next to the server's and the figures are the server's."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    requests = _requests(paths)
    i = offset
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await _exchange(reader, writer, requests[i % len(requests)], errors)
            latencies.append(time.perf_counter() - started)
            i += 1
    finally:
        writer.close()


def _requests(paths: list[str]) -> list[bytes]:
    return [f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() for p in paths]


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes, errors: list[int]) -> None:
    """Send one request and read its whole answer; a status other than 200 is noted."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(_content_length(head))
    if head[9:12] != b"200":
        errors.append(int(head[9:12]))


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    raise RuntimeError(f"response without Content-Length: {head!r}")


def load(port: int, paths: list[str], clients: int, seconds: float
         ) -> tuple[float, list[float], int]:
    """`clients` concurrent connections for `seconds`: requests/s, latencies, errors."""
    latencies: list[float] = []
    errors: list[int] = []

    async def run() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, paths, n, deadline, latencies, errors)
                               for n in range(clients)))

    started = time.perf_counter()
    asyncio.run(run())
    return len(latencies) / (time.perf_counter() - started), latencies, len(errors)


async def _paced_client(port: int, paths: list[str], offset: int, interval: float,
                        first: float, deadline: float, latencies: list[float],
                        errors: list[int]) -> None:
    """One keep-alive HTTP/1.1 connection sending a GET every `interval` seconds from
    `first` on (open loop). A request due while the last answer is still awaited is late
    through the server's fault: its latency runs from when it was due, so that a stall
    counts for every request it held back (no coordinated omission). One due while the
    connection was idle runs from when it was sent (the client's timer may wake a little
    late; that is the client's, not the server's)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    requests = _requests(paths)
    due, i = first, offset
    try:
        while due < deadline:
            now = time.perf_counter()
            if now < due:
                await asyncio.sleep(due - now)
                started = time.perf_counter()
            else:
                started = due
            await _exchange(reader, writer, requests[i % len(requests)], errors)
            latencies.append(time.perf_counter() - started)
            i += 1
            due += interval
    finally:
        writer.close()


def paced_load(port: int, paths: list[str], clients: int, rate: float, seconds: float
               ) -> tuple[float, list[float], int]:
    """`clients` connections offering `rate` requests/s between them, evenly spaced, for
    `seconds`: requests/s answered, latencies, errors. Closed-loop clients (`load`) tell
    how much the server answers at most, and at that rate their latency is the queue
    (Little's law: clients / rate); these tell the latency at a given demand."""
    latencies: list[float] = []
    errors: list[int] = []
    interval = clients / rate

    async def run() -> None:
        first = time.perf_counter() + 0.2  # every connection open before the first is due
        deadline = first + seconds
        await asyncio.gather(*(
            _paced_client(port, paths, n, interval, first + n * interval / clients,
                          deadline, latencies, errors) for n in range(clients)))

    started = time.perf_counter()
    asyncio.run(run())
    return len(latencies) / (time.perf_counter() - started - 0.2), latencies, len(errors)


_WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""
_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_load(port: int, paths: list[str], clients: int, seconds: float
             ) -> dict[str, float] | None:
    """The same load from Debian's `wrk` (a load generator in C, two threads): requests/s,
    p50 and p99 in ms, and non-2xx answers; None where wrk is not installed. The asyncio
    client above takes a good part of a core on its own, and on a two-core machine that
    core is the server's: wrk's share is small, so its figures are nearer the server's.
    (wrk runs closed loop like the client above: each connection sends its next request
    when the last answer is in.)"""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths))
    try:
        out = subprocess.run(
            [wrk, "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency",
             "-s", script.name, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    return _wrk_figures(out)


def _wrk_figures(out: str) -> dict[str, float]:
    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"wrk printed no {label}% latency:\n{out}")
        return float(match.group(1)) * _WRK_UNITS[match.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    # A request past wrk's 2 s timeout is left out of its percentiles: counted here.
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    return {"rate": float(rate.group(1)), "p50": latency("50"), "p99": latency("99"),
            "errors": float(errors.group(1)) if errors else 0.0,
            "timeouts": float(timeouts.group(1)) if timeouts else 0.0}


def report(name: str, rate: float, latencies: list[float], errors: int) -> None:
    ms = sorted(x * 1000 for x in latencies)
    print(f"{name}: {rate:.0f} req/s p50={percentile(ms, 50):.1f}ms "
          f"p99={percentile(ms, 99):.1f}ms requests={len(ms)} non-200={errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="per round and phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="server worker processes (default: one per CPU)")
    args = parser.parse_args()
    qinglu = str(Path(sys.executable).parent / "qinglu")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QINGLU_VAR_DIR": tmp,
               "QINGLU_DATABASE_URL": f"sqlite:///{tmp}/bench.db"}
        demo = json.loads(subprocess.run([qinglu, "demo", "--json"], env=env, check=True,
                                         capture_output=True, text=True).stdout)
        port = free_port()
        server = subprocess.Popen([qinglu, "serve", "--port", str(port),
                                   "--workers", str(args.workers)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            numbers = [c["number"] for c in demo["certificates"]]
            serials = [s for i in demo["issuances"] for s in i["serials"]]
            serials += [demo["cases"]["majiang"]["agreement"]["serials"][0]]
            paths = ([f"/api/v1/certificates/{n}/verify" for n in numbers]
                     + [f"/api/v1/units/{s}" for s in serials])
            base_rate, rate = alternate(port, paths, args)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"ratio={rate / base_rate:.3f}")


def alternate(port: int, paths: list[str], args: argparse.Namespace) -> tuple[float, float]:
    """Baseline and target in turn, `--rounds` times; the median rate of each.

    Each round opens fresh connections, and how the kernel spreads 50 new connections
    over the worker processes varies from round to round (all on one worker halves the
    rate), so one round of each can mislead; alternating rounds see the same spreads."""
    runs: dict[str, list[tuple[float, list[float], int]]] = {"base": [], "target": []}
    for _ in range(args.rounds):
        runs["base"].append(load(port, ["/health"], args.clients, args.seconds))
        runs["target"].append(load(port, paths, args.clients, args.seconds))
    medians = []
    for name, label in (("base", "baseline GET /health"),
                        ("target", "verify + serial look-up")):
        rates = [rate for rate, _lat, _err in runs[name]]
        latencies = [x for _rate, lat, _err in runs[name] for x in lat]
        errors = sum(err for _rate, _lat, err in runs[name])
        report(label, statistics.median(rates), latencies, errors)
        print(f"  rounds: {', '.join(f'{r:.0f}' for r in rates)} req/s")
        medians.append(statistics.median(rates))
    return medians[0], medians[1]


if __name__ == "__main__":
    main()
