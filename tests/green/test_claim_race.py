"""Twenty green-power claims race for the same certificates on PostgreSQL: each
certificate is claimed once, the claims that found none left are refused whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import qinglu.db.models  # noqa: F401  (every table, as the app loads them)
from qinglu.core.errors import InsufficientUnits
from qinglu.core.serials import parse_serial
from qinglu.documents.signing import load_or_create_key
from qinglu.green import actions as green
from qinglu.green.models import GreenClaim
from qinglu.registry import actions as registry
from tests import factories

A = "test"
CLAIMS, EACH, ISSUED = 20, 7, 50  # 20 x 7 wanted, 50 there: 7 claims fit, 13 are refused


@pytest.mark.postgres
@pytest.mark.slow
def test_twenty_claims_racing_for_the_same_certificates_each_claimed_once(
        pg_database_url: str) -> None:
    from qinglu.db.engine import make_engine, make_session_factory

    engine = make_engine(pg_database_url)
    factory: sessionmaker[Session] = make_session_factory(engine)
    with factory() as session:
        acct = factories.account(session)
        green.register_project(session, A, name="盘州光伏", filing_code_text="P520000000000009X",
                               technology="solar", commissioned=date(2023, 3, 1),
                               region="520000", account_id=acct)
        green.import_generation(session, A, filename="g.csv",
                                content=f"filing_code,month,kwh\nP520000000000009X,2026-01,"
                                        f"{ISSUED * 1000}\n".encode())
    key = load_or_create_key()

    def claim(n: int) -> str:
        with factory() as session:
            try:
                green.claim(session, key, A, account_id=acct, consumer=f"企业 {n}",
                            period_start=date(2026, 2, 1), period_end=date(2026, 2, 28),
                            consumption_kwh=EACH * 1000)
                return "claimed"
            except InsufficientUnits:
                return "refused"

    with ThreadPoolExecutor(CLAIMS) as pool:
        outcomes = list(pool.map(claim, range(CLAIMS)))
    assert outcomes.count("claimed") == ISSUED // EACH
    assert outcomes.count("refused") == CLAIMS - ISSUED // EACH
    with factory() as session:
        claims = session.scalars(select(GreenClaim)).all()
        serials: list[int] = []
        for record in claims:
            retirement = registry.get_retirement(session, record.retirement_id)
            for text in retirement.serials:
                parsed = parse_serial(text)
                serials += range(parsed.start, parsed.end + 1)
        assert len(serials) == len(set(serials)) == len(claims) * EACH
        assert registry.held_units(session, acct, "GEC") == ISSUED - len(claims) * EACH
        assert registry.audit_ledger(session)["valid"]
    engine.dispose()
