"""A project id past 999,999 and a serial past 10^12 widen their fields (P1000000, a
13-digit serial) and never lose digits: a unit has one serial string on SQLite and on
PostgreSQL, down the Python path and down the server path (registry/sql, market/sql)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from qinglu.core.models import LedgerEntry
from qinglu.core.serials import format_serial, parse_serial
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.documents.signing import load_or_create_key
from qinglu.market import actions as market
from qinglu.registry import actions as registry
from tests import factories as f

WIDE_PROJECT = 1_000_000  # one past the 6-digit field
WIDE_SERIAL = 10**12 + 7  # 13 digits, one past the 12-digit field
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
A = f.ACTOR


def _engines(url: str) -> dict[str, Engine]:
    """The database as production runs it and, on PostgreSQL, forced down the Python path."""
    engines = {"as deployed": make_engine(url)}
    if url.startswith("postgresql"):
        engines["python path"] = make_engine(url, server_functions=False)
    return engines


def _wide_issuance(session: Session, project_id: int, first_serial: int) -> tuple[int, int]:
    """A holding account with 1,000 units of project `project_id` from `first_serial` on."""
    seller, buyer = f.account(session), f.account(session)
    made = f.project(session)
    session.execute(text("UPDATE projects SET id = :wide WHERE id = :made"),
                    {"wide": project_id, "made": made})
    session.execute(text("UPDATE products SET next_serial = :first WHERE code = 'FCS'"),
                    {"first": first_serial})
    session.commit()
    session.expire_all()
    issued = registry.issue(session, project_id=project_id, vintage=2024, quantity=1_000,
                            to_account=seller, actor=A)
    # Both numbers are wider than their fields, so no zero is padded: the digits as they are.
    assert issued["serials"] == [
        f"QL-FCS-522629-P{project_id}-2024-{first_serial}-{first_serial + 999}"]
    return seller, buyer


def test_wide_project_and_serial_read_alike_on_every_path(database_url: str) -> None:
    key = load_or_create_key()
    for run, (path, engine) in enumerate(_engines(database_url).items()):
        project_id, first = WIDE_PROJECT + run, WIDE_SERIAL + 10_000 * run
        name = f"QL-FCS-522629-P{project_id}-2024-{{}}-{{}}"
        with make_session_factory(engine)() as session:
            seller, buyer = _wide_issuance(session, project_id, first)

            moved = registry.transfer(session, from_account=seller, to_account=buyer,
                                      product="FCS", quantity=10, actor=A)
            assert moved["serials"] == [name.format(first, first + 9)], path
            entry = session.scalar(select(LedgerEntry).where(
                LedgerEntry.sequence == moved["entry"]))
            assert entry is not None
            assert json.loads(entry.body)["result"]["serials"] == moved["serials"], path

            listing = market.create_listing(
                session, seller_account=seller, product="FCS", quantity=100,
                price=Decimal("50"), min_lot=None, expires_at=T0 + timedelta(days=1),
                actor=A, now=T0)
            order = market.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                       quantity=100, actor=A, now=T0)
            paid = market.confirm_payment(session, key, order_id=order["id"],
                                          reference=f"wide-{run}", actor=A, now=T0)
            assert paid["serials"] == [name.format(first + 10, first + 109)], path

            back = parse_serial(moved["serials"][0])
            assert (back.project_id, back.start, back.end) == (project_id, first, first + 9)
        engine.dispose()


def test_format_serial_function_is_format_serial(pg_database_url: str) -> None:
    """qinglu_format_serial and qinglu_zero_pad write what core/serials.py writes, for
    numbers narrower and wider than their fields (and signs, for the padding alone)."""
    engine = make_engine(pg_database_url)
    with engine.connect() as connection:

        @settings(max_examples=150, deadline=None)
        @given(project=st.integers(1, 10**12 - 1), start=st.integers(1, 10**15 - 1),
               length=st.integers(0, 10**6), vintage=st.integers(1990, 2100),
               region=st.from_regex(r"\A[0-9]{6}\Z"), product=st.sampled_from(["FCS", "GEC"]))
        def same_serial(project: int, start: int, length: int, vintage: int, region: str,
                        product: str) -> None:
            end = start + length
            written = connection.execute(
                text("SELECT qinglu_format_serial(:product, :region, :project, :vintage, "
                     ":start, :end)"),
                {"product": product, "region": region, "project": project, "vintage": vintage,
                 "start": start, "end": end}).scalar_one()
            assert written == format_serial(product, region, project, vintage, start, end)

        @settings(max_examples=150, deadline=None)
        @given(number=st.integers(-(2**63), 2**63 - 1), width=st.integers(0, 25))
        def same_padding(number: int, width: int) -> None:
            padded = connection.execute(text("SELECT qinglu_zero_pad(:number, :width)"),
                                        {"number": number, "width": width}).scalar_one()
            assert padded == f"{number:0{width}d}"

        same_serial()
        same_padding()
    engine.dispose()
