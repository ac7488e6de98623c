"""A product an operator adds through one worker of `qinglu serve --workers 2` is usable
through the other within 30 s: each process keeps the product rows in memory and
re-reads them every `PRODUCTS_RELOAD_SECONDS` (registry/actions.py)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from qinglu.accounts import actions as accounts
from qinglu.accounts.models import User
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.registry import actions as registry
from tests import factories as f
from tests.web.test_burst import qinglu_serve

LIMIT_SECONDS = 30.0
IN_A_ROW = 24  # consecutive answers that know the product, each on a new connection
# (the workers take turns accepting them, so both answer among them)


def _people(database_url: str) -> tuple[str, str, int, int]:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            holder = f.org(session)
            source, target = f.account(session, holder), f.account(session, holder)
            accounts.add_user(session, name="op", role="operator", password="correct horse")
            accounts.add_user(session, name="h", role="holder", password="correct horse",
                              holder_id=holder)
            users = {u.name: u for u in session.scalars(select(User))}
            return (accounts.issue_token(session, users["op"]),
                    accounts.issue_token(session, users["h"]), source, target)
    finally:
        engine.dispose()


@pytest.mark.postgres  # the backend that serves several workers; the cache is the same
@pytest.mark.slow
def test_a_product_added_through_one_worker_is_usable_through_the_other_within_30_s(
        pg_database_url: str, tmp_path: Path) -> None:
    assert registry.PRODUCTS_RELOAD_SECONDS <= LIMIT_SECONDS / 2
    database_url = pg_database_url
    operator, holder, source, target = _people(database_url)
    transfer = {"from_account": source, "to_account": target, "product": "SOLARDEV",
                "quantity": "1"}
    with qinglu_serve(database_url, 2, tmp_path / "var") as base, httpx.Client(
            base_url=base, timeout=10,
            limits=httpx.Limits(max_keepalive_connections=0)) as client:

        def knows_the_product() -> bool:
            # Before a worker knows SOLARDEV the quantity cannot be parsed (unknown
            # product); after, the transfer fails only for want of units.
            answer = client.post("/api/v1/transfers", json=transfer,
                                 headers={"Authorization": f"Bearer {holder}"})
            assert answer.status_code in (404, 409), answer.text
            return "unknown-product" not in answer.text

        for _ in range(8):  # both workers have read the product rows before the add
            assert not knows_the_product()
        added = client.post("/api/v1/products", headers={
            "Authorization": f"Bearer {operator}"}, json={
            "code": "SOLARDEV", "name_zh": "光伏开发权", "name_en": "solar development right",
            "unit": "MW", "decimals": 1})
        assert added.status_code == 201, added.text
        start = time.monotonic()
        streak = 0
        while streak < IN_A_ROW:
            assert time.monotonic() - start < LIMIT_SECONDS, "a worker still refuses it"
            streak = streak + 1 if knows_the_product() else 0
            if not streak:
                time.sleep(0.25)
        assert time.monotonic() - start < LIMIT_SECONDS
