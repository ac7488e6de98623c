"""Shared helpers for the benchmarks: a fresh PostgreSQL schema or SQLite file."""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, text

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_url() -> str:
    return os.environ.get("QINGLU_BENCH_DATABASE_URL") or os.environ.get(
        "QINGLU_TEST_DATABASE_URL", DEFAULT_PG_URL)


def fresh_pg_schema(base_url: str, schema: str) -> str:
    """Drop and recreate `schema`; return a URL whose search_path points at it."""
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public"))
        # Migration 0018 creates PostGIS in the first schema of the search path when it is
        # missing: made in public here, so that dropping a bench schema does not take the
        # extension (and every other schema's geometry type) with it.
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public"))
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    joiner = "&" if "?" in base_url else "?"
    return f"{base_url}{joiner}options={quote(f'-csearch_path={schema},public')}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run_clients(target: Callable[..., None], args_of: Callable[[int], tuple[Any, ...]],
                clients: int, seconds: float) -> tuple[float, list[float]]:
    """Start `clients` processes running `target(*args_of(i), queue)`; each puts its list
    of latencies on the queue. Returns operations/s over the run, and all latencies."""
    queue: mp.Queue[list[float]] = mp.Queue()
    procs = [mp.Process(target=target, args=(*args_of(i), queue)) for i in range(clients)]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - started
    latencies = [x for r in results for x in r]
    return len(latencies) / min(elapsed, seconds + 1.0), latencies
